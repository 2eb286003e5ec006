/**
 * The simulated world: a fake GitHub org (in this process), a simulated Mac (the fake `tart` under
 * its own TART_HOME, whose `tart run` processes are the simulated guests) and the config that
 * points the **unchanged daemon** at them — only through contract.md's environment variables
 * (GitHub URL and token, tart binary, host RAM, SSH password and port).
 *
 * ## Lifecycle
 * `SimWorld.create()` → `startDaemon()` → queue jobs → watch (`ls()`, `github`, `tartEvents()`) →
 * `stopDaemon()` → `destroy()`, which stops every VM left, stops the fake GitHub and removes the
 * temp dir. `destroy()` is safe to call twice and after failures.
 *
 * The simulated Mac holds two golden images: `workhorse` (macOS: Apple's minimums of 2 CPUs and
 * 4 GiB, as on a real Mac) and `workhorse-linux` (a Linux guest, for tests that bring Linux
 * profiles). The config is the shipped pipeline.yml (its profiles unchanged: all three on the macOS
 * image, coder at the macOS minimum of 4096 MB), with the world's org, runner_name, clock and
 * directories laid over it.
 *
 * Softnet: the Mac has softnet installed setuid root (`TART_SIM_SOFTNET=setuid`, as the real-Mac guide
 * sets it up) only when the config uses Softnet (`vm.net_softnet*` or a profile with
 * `network: softnet`); otherwise softnet is missing, as on a fresh Mac. `simEnv` overrides either way.
 *
 * ## Gotchas
 * - Each world picks its own free SSH port: guests of two worlds (two test files at once) would
 *   otherwise collide on the same loopback address and port.
 * - The daemon is spawned as `node bin/tart-fleet.js`, never through npx (npx does not forward
 *   SIGTERM, facts sheet §13), so `stopDaemon()` sees the daemon's own exit code.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync, createWriteStream, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse, stringify } from 'yaml';
import { PACKAGE_ROOT } from '../config/package.js';
import { FakeGitHub } from './github/server.js';
import { DAEMON_NODE_FLAGS } from '../launchd/plist.js';
import { installFakeTart, createGoldenImage } from './tart/install.js';

const run = promisify(execFile);

export interface SimWorldOptions {
  /** The simulated Mac's RAM (default 16 GB) and what is reserved for macOS (default 4 GB). */
  ramGb?: number;
  reservedGb?: number;
  /** Speed-up of simulated time: boot delays and job durations are divided by it (default 20). */
  speed?: number;
  runnerName?: string;
  /** Simulated boot time of a VM, before speed-up (default 20 s, like a real macOS guest). */
  bootSeconds?: number;
  pollSeconds?: number;
  /** Extra config sections merged into pipeline.yml. */
  config?: { host?: Record<string, unknown>; vm?: Record<string, unknown>; profiles?: Record<string, unknown> };
  /** Extra environment for the fake tart and its guests (TART_SIM_* switches). */
  simEnv?: Record<string, string>;
  /** Share an existing fake GitHub (two Macs on one org). */
  github?: { server: FakeGitHub; apiUrl: string; token: string };
}

/** The Linux golden image of the simulated Mac. */
export const LINUX_IMAGE = 'workhorse-linux';

/** The shipped pipeline.yml, parsed: the simulated Mac runs its profiles as they are. */
const SHIPPED = parse(readFileSync(join(PACKAGE_ROOT, 'pipeline.yml'), 'utf8')) as {
  github?: Record<string, unknown>;
  host?: Record<string, unknown>;
  vm?: Record<string, unknown>;
  profiles: Record<string, { ram_mb: number; cpu: number; timeout_minutes: number } & Record<string, unknown>>;
};

/** The shipped profiles (developer, coder, marketer), unchanged: all three boot the macOS image. */
export const SEED_PROFILES = SHIPPED.profiles;

/** True when the config would start a VM with Softnet. */
function usesSoftnet(config: SimWorldOptions['config']): boolean {
  const vm = config?.vm ?? {};
  const listed = (v: unknown) => Array.isArray(v) && v.length > 0;
  if (vm.net_softnet === true || listed(vm.net_softnet_allow) || listed(vm.net_softnet_block)) return true;
  return Object.values(config?.profiles ?? {}).some((p) => {
    const q = (typeof p === 'object' && p !== null ? p : {}) as Record<string, unknown>;
    // An untrusted profile uses Softnet unless it says nat (config/load.ts).
    return q.network === 'softnet' || (q.trust === 'untrusted' && q.network !== 'nat');
  });
}

export interface LsJson {
  runner_name: string;
  ledger: { used_mb: number | null; ceiling_mb: number; vms: number | null; max_vms: number };
  vms: Array<{ name: string; profile: string; state: string; repo: string | null; job_id: number; age_s: number | null; ram_mb: number; cpu: number; ip: string | null; runner_status: string | null }>;
  /** Null when the daemon could not read GitHub: unknown, not empty. */
  queue: Array<{ repo: string; job_id: number; profile: string | null; waiting_s: number; reason: string }> | null;
  creating: Array<{ vm: string }>;
  problems: string[];
}

export interface TartEvent {
  t: number;
  event: string;
  vm: string;
  ramMb?: number;
  cpu?: number;
  [k: string]: unknown;
}

export class SimWorld {
  readonly token: string;
  readonly sshPassword = 'sim-guest-password';
  daemon: ChildProcess | undefined;
  readonly daemonLog: string;
  private ownsGitHub: boolean;
  private destroyed = false;

  private constructor(
    readonly dir: string,
    readonly github: FakeGitHub,
    readonly apiUrl: string,
    readonly tartHome: string,
    readonly tartBin: string,
    readonly configPath: string,
    readonly sshPort: number,
    readonly opts: Required<Pick<SimWorldOptions, 'ramGb' | 'reservedGb' | 'speed' | 'runnerName' | 'bootSeconds'>> & SimWorldOptions,
    token: string,
    ownsGitHub: boolean,
  ) {
    this.token = token;
    this.ownsGitHub = ownsGitHub;
    this.daemonLog = join(dir, 'daemon.log');
  }

  static async create(options: SimWorldOptions = {}): Promise<SimWorld> {
    const opts = { ramGb: 16, reservedGb: 4, speed: 20, runnerName: 'sim-mac', bootSeconds: 20, ...options };
    const dir = mkdtempSync(join(tmpdir(), 'tart-fleet-sim-'));
    try {
      const token = options.github?.token ?? `ghp_sim${Math.random().toString(36).slice(2).padEnd(36, 'x')}`;
      let github = options.github?.server;
      let apiUrl = options.github?.apiUrl;
      if (!github || !apiUrl) {
        github = new FakeGitHub({ org: 'sim-org', tokens: [token] });
        apiUrl = await github.start();
      }
      const tartHome = join(dir, 'tart-home');
      mkdirSync(tartHome, { recursive: true });
      const tartBin = installFakeTart(join(dir, 'bin'));
      createGoldenImage(tartHome, 'workhorse', { cpu: 4, ramMb: 4096, os: 'darwin' });
      createGoldenImage(tartHome, LINUX_IMAGE, { cpu: 2, ramMb: 2048, os: 'linux' });
      const sshPort = await freePort();
      const configPath = join(dir, 'pipeline.yml');
      writeFileSync(
        configPath,
        stringify({
          // The shipped pipeline.yml, with what names this world (org, runner_name) and its clock
          // and directories on top; its profiles unchanged unless a test brings its own.
          ...SHIPPED,
          github: { ...SHIPPED.github, org: github.org, runner_name: opts.runnerName },
          // min_free_disk_gb 0: the simulated Mac's disk is this machine's temp dir, whose free space
          // says nothing about a Mac (the disk floor is tested in the planner's tests).
          host: { ...SHIPPED.host, reserved_ram_gb: opts.reservedGb, poll_seconds: opts.pollSeconds ?? 1, cache_dir: join(dir, 'cache'), log_dir: join(dir, 'vm-logs'), min_free_disk_gb: 0, ...options.config?.host },
          // boot_proof off unless a test turns it on: the proof's own clone and boot would add to the
          // event log that the other scenarios count (test/e2e/boot-proof.test.ts turns it on).
          vm: { ...SHIPPED.vm, boot_timeout_seconds: 60, registration_timeout_seconds: 60, boot_proof: false, ...options.config?.vm },
          profiles: options.config?.profiles ?? SEED_PROFILES,
        }),
      );
      return new SimWorld(dir, github, apiUrl, tartHome, tartBin, configPath, sshPort, opts, token, !options.github);
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** The environment of the daemon (and of `ls`): contract.md's variables, pointed at the simulation. */
  daemonEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('TART_FLEET_') && !k.startsWith('TART_SIM_') && k !== 'GITHUB_TOKEN') env[k] = v;
    return {
      ...env,
      TART_FLEET_GITHUB_API_URL: this.apiUrl,
      TART_FLEET_GITHUB_TOKEN: this.token,
      TART_FLEET_TART_BIN: this.tartBin,
      TART_FLEET_HOST_TOTAL_RAM_MB: String(this.opts.ramGb * 1024),
      TART_FLEET_SSH_PASSWORD: this.sshPassword,
      TART_FLEET_VM_SSH_PORT: String(this.sshPort),
      ...this.simEnv(),
      ...extra,
    };
  }

  /** What the fake tart and its guests read: state dir, speed, SSH credentials they accept. */
  simEnv(): Record<string, string> {
    return {
      TART_HOME: this.tartHome,
      TART_SIM_SPEED: String(this.opts.speed),
      TART_SIM_BOOT_MS: String(Math.round((this.opts.bootSeconds * 1000) / this.opts.speed)),
      TART_SIM_SSH_PORT: String(this.sshPort),
      TART_SIM_SSH_PASSWORD: this.sshPassword,
      TART_SIM_SOFTNET: usesSoftnet(this.opts.config) ? 'setuid' : 'missing',
      ...this.opts.simEnv,
    };
  }

  queue(profileOrLabels: string | string[], opts: { repo?: string; durationS?: number; name?: string; status?: 'waiting' } = {}): number {
    const labels = typeof profileOrLabels === 'string' ? ['self-hosted', profileOrLabels] : profileOrLabels;
    const { jobId } = this.github.queueJob({
      repo: opts.repo ?? 'app',
      labels,
      ...(opts.name ? { name: opts.name } : {}),
      // Simulated time: the runner in the guest divides it by TART_SIM_SPEED.
      durationMs: Math.round((opts.durationS ?? 30) * 1000),
      ...(opts.status ? { status: opts.status } : {}),
    });
    return jobId;
  }

  /** `nodeFlags` come after the daemon's own (the bench's `--cpu-prof`: NODE_OPTIONS refuses it). */
  startDaemon(args: string[] = ['run'], extraEnv: Record<string, string> = {}, nodeFlags: string[] = []): ChildProcess {
    const out = createWriteStream(this.daemonLog, { flags: 'a' });
    // The same node flags as the launchd plist: the daemon measured here is the daemon a Mac runs.
    const child = spawn(process.execPath, [...DAEMON_NODE_FLAGS, ...nodeFlags, join(PACKAGE_ROOT, 'bin', 'tart-fleet.js'), ...args, '--config', this.configPath], {
      env: this.daemonEnv(extraEnv),
      cwd: this.dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.pipe(out, { end: false });
    child.stderr?.pipe(out, { end: false });
    this.daemon = child;
    return child;
  }

  /** SIGTERM the daemon and wait for its own exit code (SIGKILL after `timeoutMs`). */
  async stopDaemon(timeoutMs = 15_000): Promise<number | null> {
    const child = this.daemon;
    if (!child || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? null;
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const code = await exited;
    clearTimeout(timer);
    return code;
  }

  /** The daemon's log lines, parsed. */
  logLines(): Array<Record<string, unknown>> {
    return existsSync(this.daemonLog) ? parseLogLines(readFileSync(this.daemonLog, 'utf8')) : [];
  }

  /** `tart-fleet ls --json` against this world, by the real CLI. */
  async ls(): Promise<LsJson> {
    const { stdout } = await run(process.execPath, [join(PACKAGE_ROOT, 'bin', 'tart-fleet.js'), 'ls', '--json', '--config', this.configPath], { env: this.daemonEnv(), cwd: this.dir });
    return JSON.parse(stdout) as LsJson;
  }

  /** `tart list --format json` of the simulated Mac, by the fake tart. */
  /**
   * `tart list` as an observer sees it. Like real tart (List.swift stats each VM directory it
   * found), the fake can fail when the daemon deletes a VM mid-listing: the observer asks again.
   */
  async tartList(): Promise<Array<{ Name: string; State: string }>> {
    for (let attempt = 1; ; attempt++) {
      try {
        const { stdout } = await run(this.tartBin, ['list', '--format', 'json'], { env: { ...process.env, ...this.simEnv() } });
        return JSON.parse(stdout) as Array<{ Name: string; State: string }>;
      } catch (err) {
        if (attempt >= 3 || !/ENOENT/.test(String((err as { stderr?: string }).stderr ?? err))) throw err;
      }
    }
  }

  /** The simulated Mac's own record of every clone/run/stop/delete. */
  tartEvents(): TartEvent[] {
    const file = join(this.tartHome, '.sim', 'events.jsonl');
    if (!existsSync(file)) return [];
    return readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as TartEvent);
  }

  /** Stops the daemon, every VM still running, the fake GitHub (if ours), and removes the temp dir. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    await this.stopDaemon().catch(() => undefined);
    try {
      for (const vm of await this.tartList()) {
        if (vm.State === 'running') await run(this.tartBin, ['stop', '--timeout', '5', vm.Name], { env: { ...process.env, ...this.simEnv() } }).catch(() => undefined);
      }
    } catch {
      // tart itself may be what failed; the temp dir goes regardless.
    }
    if (this.ownsGitHub) await this.github.stop().catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** JSON log lines → objects; a line that is not JSON (a crash message, say) becomes `{ raw }`. */
export function parseLogLines(text: string): Array<Record<string, unknown>> {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        return { raw: l };
      }
    });
}

/**
 * Replays the simulated Mac's event log: the most RAM, the most VMs and the most macOS VMs (what
 * `max_vms` and Apple's limit of 2 bind) running at any one moment. A VM runs from `run-start` until
 * `run-exit`, `stop` or `delete`, with the memory its last `set` gave it.
 */
export function peakUsage(events: TartEvent[]): { ramMb: number; vms: number; macosVms: number } {
  const memory = new Map<string, number>();
  const running = new Map<string, { mb: number; macos: boolean }>();
  let ramMb = 0;
  let vms = 0;
  let macosVms = 0;
  for (const e of [...events].sort((a, b) => a.t - b.t)) {
    if (typeof e.ramMb === 'number') memory.set(e.vm, e.ramMb);
    if (e.event === 'run-start') running.set(e.vm, { mb: memory.get(e.vm) ?? 0, macos: e.os !== 'linux' });
    if (e.event === 'run-exit' || e.event === 'stop' || e.event === 'delete') running.delete(e.vm);
    ramMb = Math.max(ramMb, [...running.values()].reduce((a, b) => a + b.mb, 0));
    vms = Math.max(vms, running.size);
    macosVms = Math.max(macosVms, [...running.values()].filter((r) => r.macos).length);
  }
  return { ramMb, vms, macosVms };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
