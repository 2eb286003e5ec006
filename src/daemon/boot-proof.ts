/**
 * The boot proof: from inside the daemon's own process (so in its launchd context: its user, its
 * security session, its Local Network privacy standing), boot each configured golden image once —
 * clone, size, run, reach it the configured way, delete — and classify what fails from what tart
 * and the OS print, each with its fix. The result goes to `<state_dir>/boot-proof.json` (0600),
 * `ls`, the metrics, the planner (core/proof-gate.ts: a failed image claims no jobs) and runner
 * delivery (daemon/delivery.ts: SSH blocked but `tart exec` working → deliver through exec).
 *
 * Why here and not in a shell: a Terminal or SSH session proves nothing about launchd. It has its
 * own login keychain and security session (Virtualization.framework refuses macOS 15+ guests to a
 * user without an unlocked login keychain: tart FAQ "Headless machines", tart #921, #1132, #1137)
 * and is exempt from Local Network privacy (TN3179 exempts processes run over SSH), while a
 * LaunchAgent or a daemon with `UserName` is not (cirrus-cli `internal/commands/worker/run.go`;
 * orchard#221 "connect: no route to host"). See shared audits/turn4-macos-daemon.md.
 *
 * ## Lifecycle
 * `start()` runs once at daemon start (images one after another, so the proof takes one VZ slot);
 * `watchRequests()` re-runs it when `selftest --as-daemon` drops `<state_dir>/boot-proof.request`
 * (the CLI then reads the answer; the same code in the same process). Per image:
 * 1. `tart get <image>` (missing → `image-missing`).
 * 2. `tart clone <image> tfproof-<runner_name>-<n>`; `tart set` with each profile's CPU/RAM of that
 *    image, smallest first: a profile below the image's minimum fails alone (`image-too-small`,
 *    tart's LessThanMinimalResourcesError); the first that fits sizes the proof VM.
 * 3. `tart run` as the daemon runs it (Softnet when a profile of the image uses it): the VZ keychain
 *    errors → `keychain`; Softnet texts → `softnet`; the VZ limit → `vz-limit` (retried later).
 * 4. Reach: `tart exec <vm> true` (the guest agent), then, unless `vm.runner_delivery: exec`,
 *    `tart ip <vm>` and an SSH login with the daemon's credentials running `true`. SSH refused or
 *    unreachable while `tart exec` works and `nc -z 127.0.0.1 <ssh_port>` inside the guest answers
 *    → `local-network` (Local Network privacy). Delivery is then `exec` under the default `ssh`
 *    mode (the proof passes, with a warning), a failure under `ssh-only`.
 * 5. `tart stop` + `tart delete`, always.
 *
 * ## Gotchas
 * - The proof VM is named `tfproof-<runner_name>-<n>` (n: the image's place), outside the daemon's `tf-<host>-…` names: the planner counts
 *   it as a foreign VM (its RAM and VZ slot) and never reaps it mid-proof; a proof VM left by a
 *   crash is deleted at the next proof.
 * - `vz-limit` and `out-of-disk` are not verdicts on the image: the image stays `pending` (jobs
 *   wait) and the proof is tried again after a minute.
 * - Only macOS 15+ guests need the keychain; Linux and ≤ 14 guests boot without it (tart #921:
 *   "macOS v14 VMs still work as root"), so a Mac may pass for one image and fail for another.
 * - The SSH check waits only a few seconds once `tart exec` showed the guest up and its sshd
 *   listening: Local Network privacy answers at once (EHOSTUNREACH), it is not a slow boot.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { imageOf, type Config, type Profile } from '../config/types.js';
import type { Logger } from '../core/logger.js';
import { TartError, type Clock, type TartVmDetails } from '../core/ports.js';
import type { BootProofView, ImageProofView } from '../core/proof-gate.js';
import { GuestShell } from '../adapters/ssh-exec.js';
import type { SshCredentials } from '../adapters/ssh.js';
import { writeFileAtomic } from '../adapters/atomic-write.js';
import type { TartAdapter } from '../adapters/tart.js';
import { ADVICE } from '../adapters/tart-errors.js';
import { statePaths } from '../config/paths.js';


export type ProofFailureKind =
  | 'image-missing'
  | 'image-too-small'
  | 'keychain'
  | 'softnet'
  | 'local-network'
  | 'ssh-unreachable'
  | 'ssh-auth'
  | 'guest-agent'
  | 'boot-timeout'
  | 'vz-limit'
  | 'out-of-disk'
  | 'other';

export interface ImageProof {
  image: string;
  status: 'pending' | 'passed' | 'failed';
  os: 'darwin' | 'linux' | null;
  started_at: string | null;
  finished_at: string | null;
  /** `ok`; `blocked` (refused or unreachable while the guest is up: Local Network privacy); `failed`; `not-tried`. */
  ssh: 'ok' | 'blocked' | 'failed' | 'not-tried';
  exec: 'ok' | 'failed' | 'not-tried';
  /** How runners reach guests of this image now (null: none, the image failed). */
  delivery: 'ssh' | 'exec' | null;
  failure: { kind: ProofFailureKind; detail: string; fix: string } | null;
  /** Passed with something the operator should know (e.g. SSH blocked, delivering through exec). */
  warnings: string[];
  /** Profiles of this image that cannot boot it (below its minimum). */
  profiles: Record<string, { reason: string; fix: string }>;
}

export interface BootProofReport {
  /** Written by the daemon with this pid, in this context. */
  daemon_pid: number;
  uid: number | null;
  /** Set when the run answered a `selftest --as-daemon` request. */
  request_id: string | null;
  running: boolean;
  written_at: string;
  images: Record<string, ImageProof>;
}

export interface BootProofDeps {
  config: Config;
  tart: TartAdapter;
  clock: Clock;
  logger: Logger;
  /** The daemon's SSH credentials (absent with `vm.runner_delivery: exec`). */
  ssh: SshCredentials | undefined;
}

/** A fix for each failure kind (cited in the module header and docs/boot-proof.md). */
export const FIXES: Record<ProofFailureKind, string> = {
  'image-missing': 'create the golden image on this Mac (tart clone <registry ref> <image>, or build it: images/README.md), as the user the daemon runs as',
  'image-too-small': "raise the profile's ram_mb/cpu to the image's minimum (macOS guests: 4096 MB, 2 CPUs), or give the profile a Linux image (os: linux, image: …)",
  keychain:
    "Virtualization.framework refuses macOS 15+ guests to a user without an unlocked login keychain: install with `tart-fleet launchd --install` (a LaunchAgent in the GUI session of a user with automatic login), or unlock that user's login keychain (tart FAQ, Headless machines); a LaunchDaemon or root cannot boot these guests",
  softnet: 'brew install cirruslabs/cli/softnet, then make it setuid root (sudo chown root and sudo chmod u+s on its resolved path; redo after brew upgrade)',
  'local-network':
    'macOS Local Network privacy blocks this process from the guest network: run `sudo defaults write com.apple.network.local-network AllowedEthernetLocalNetworkAddresses -array "192.168.64.0/24"` and reboot (tart FAQ), or allow the prompt at the console; or set vm.runner_delivery: exec (tart exec needs no network)',
  'ssh-unreachable': "the guest's sshd does not answer: enable Remote Login in the golden image and check vm.ssh_port; if tart exec works, vm.runner_delivery: exec avoids SSH",
  'ssh-auth': 'the guest refused the credentials: check TART_FLEET_SSH_PASSWORD / vm.ssh_private_key_path and vm.ssh_host_key against the golden image',
  'guest-agent': 'install the Tart Guest Agent in the golden image (Cirrus Labs images have it; it must run with --run-rpc) and use tart >= 2.27, or deliver over SSH',
  'boot-timeout': 'the guest never answered within vm.boot_timeout_seconds: check the image boots (tart run <image>) and the timeout',
  'vz-limit': 'two macOS VMs are already running (Apple\'s limit); if none is, reboot the Mac (tart #1217). The proof is retried',
  'out-of-disk': 'free disk space on the volume of TART_HOME. The proof is retried',
  other: 'see the detail; run `tart run <image>` by hand as the daemon\'s user to see tart\'s own output',
};

/** What tart prints when the user running it has no unlocked login keychain (see the header). */
const KEYCHAIN_TEXTS = [
  // tart #921, #1025, #1067, #1132 (Sequoia guests): the generic Code=1; on a darwin guest it is the keychain in practice.
  /VZErrorDomain Code=1 "The virtual machine failed to start\."/,
  // tart #1137 (Tahoe guests): "Failed to create new HostKey".
  /VZErrorDomain Code=-9\b|Failed to (create new|get current) host ?key/i,
  // The underlying Security error, when tart or the log shows it (tart #1067, #1075).
  /SecKeyCreateRandomKey|-25308|errKCInteractionNotAllowed/,
];
const SOFTNET_TEXTS = /softnet not found in PATH|Softnet process terminated prematurely|root privileges are required to run/i;
const TOO_SMALL = /LessThanMinimalResourcesError/;

const RETRY_AFTER_MS = 60_000;
/** Once the guest is up (exec answered), how long SSH gets. */
const SSH_WINDOW_MS = 8_000;

export class BootProof {
  private readonly images = new Map<string, ImageProof>();
  private running: Promise<void> | undefined;
  private requestTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly deps: BootProofDeps) {
    for (const image of imagesOf(deps.config)) this.images.set(image, blank(image));
  }

  /** The planner's and delivery's view (core/proof-gate.ts). */
  view(): BootProofView {
    return proofViewOf(Object.fromEntries(this.images))!;
  }

  /** How runners reach guests of `image` now: `exec` only when the proof says SSH is blocked and exec works. */
  delivery(image: string): 'ssh' | 'exec' | null {
    return this.images.get(image)?.delivery ?? null;
  }

  report(requestId: string | null = null): BootProofReport {
    return {
      daemon_pid: process.pid,
      uid: typeof process.getuid === 'function' ? process.getuid() : null,
      request_id: requestId,
      running: this.running !== undefined,
      written_at: new Date(this.deps.clock.now()).toISOString(),
      images: Object.fromEntries(this.images),
    };
  }

  /** Runs the proof of every image (once at a time); resolves when it ended. */
  run(requestId: string | null = null): Promise<void> {
    this.running ??= this.runAll(requestId).finally(() => {
      this.running = undefined;
      this.write(requestId);
    });
    return this.running;
  }

  /** Answers `selftest --as-daemon`: a request file in the state dir starts a proof run. */
  watchRequests(everyMs = 1000): void {
    const file = statePaths(this.deps.config.host).bootProofRequest;
    this.requestTimer = setInterval(() => {
      if (this.running || !existsSync(file)) return;
      let id = 'request';
      try {
        id = (JSON.parse(readFileSync(file, 'utf8')) as { id?: string }).id ?? id;
      } catch {
        // a half-written request: its id is unknown, the run still answers it
      }
      rmSync(file, { force: true });
      this.deps.logger.info('boot proof requested (selftest --as-daemon)', { request_id: id });
      void this.run(id);
    }, everyMs);
    this.requestTimer.unref();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.requestTimer);
    clearTimeout(this.retryTimer);
  }

  /** Waits for a proof run in flight (tests, shutdown). */
  async drain(): Promise<void> {
    await this.running;
  }

  private async runAll(requestId: string | null): Promise<void> {
    await this.removeLeftovers();
    for (const image of this.images.keys()) {
      if (this.stopped) return;
      const previous = this.images.get(image)!;
      // A rerun keeps the last verdict visible (and gating) until the new one is in.
      this.images.set(image, { ...previous, started_at: new Date(this.deps.clock.now()).toISOString() });
      this.write(requestId);
      const result = await this.proveImage(image);
      this.images.set(image, result);
      this.log(result);
    }
    const retry = [...this.images.values()].some((p) => p.status === 'pending');
    if (retry && !this.stopped) {
      this.retryTimer = setTimeout(() => void this.run(), RETRY_AFTER_MS);
      this.retryTimer.unref();
    }
  }

  private log(p: ImageProof): void {
    const log = this.deps.logger.child({ component: 'boot-proof', image: p.image });
    if (p.status === 'passed') {
      log.info('boot proof passed', { delivery: p.delivery, ssh: p.ssh, exec: p.exec });
      for (const w of p.warnings) log.warn(w);
    } else if (p.failure) {
      const fields = { kind: p.failure.kind, detail: p.failure.detail, fix: p.failure.fix };
      if (p.status === 'failed') log.error('boot proof failed: no job of this image is claimed', fields);
      else log.warn('boot proof could not run now; retrying', fields);
    }
    for (const [profile, why] of Object.entries(p.profiles)) log.error('profile cannot boot its image: its jobs are not claimed', { profile, reason: why.reason, fix: why.fix });
  }

  private write(requestId: string | null): void {
    const dir = this.deps.config.host.state_dir;
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      writeFileAtomic(statePaths(this.deps.config.host).bootProof, `${JSON.stringify(this.report(requestId), null, 2)}\n`, 0o600);
    } catch (err) {
      this.deps.logger.warn('cannot write the boot proof file', { dir, error: (err as Error).message });
    }
  }

  private async removeLeftovers(): Promise<void> {
    const { tart, config } = this.deps;
    const prefix = `tfproof-${config.github.runner_name}-`;
    const vms = await tart.list().catch(() => []);
    for (const vm of vms.filter((v) => v.name.startsWith(prefix))) await this.remove(vm.name);
  }

  private async remove(vm: string): Promise<void> {
    const { tart } = this.deps;
    await tart.stop(vm, 10).catch(() => undefined);
    await tart.delete(vm).catch((err: unknown) => this.deps.logger.warn('cannot delete a boot proof VM', { vm, error: (err as Error).message }));
  }

  private async proveImage(image: string): Promise<ImageProof> {
    const { config, tart, clock } = this.deps;
    const p: ImageProof = { ...blank(image), started_at: new Date(clock.now()).toISOString() };
    const end = (status: ImageProof['status'], kind?: ProofFailureKind, detail?: string): ImageProof => {
      p.status = status;
      p.finished_at = new Date(clock.now()).toISOString();
      if (kind) p.failure = { kind, detail: detail ?? '', fix: FIXES[kind] };
      if (status !== 'passed') p.delivery = null;
      return p;
    };
    let details: TartVmDetails;
    try {
      details = await tart.get(image);
    } catch (err) {
      if (err instanceof TartError && err.kind === 'vm-missing') return end('failed', 'image-missing', `no local VM named ${image}: ${err.stderrLine}`);
      return end('pending', 'other', (err as Error).message);
    }
    p.os = details.os;
    const profiles = profilesOf(config, image).sort((a, b) => a.ram_mb - b.ram_mb || a.cpu - b.cpu);
    // Named by the image's place in the config (images are proved one at a time): the run logs in
    // host.log_dir stay one per image however often the proof runs.
    const vm = `tfproof-${config.github.runner_name}-${imagesOf(config).indexOf(image) + 1}`;
    try {
      await tart.clone(image, vm);
      // Every profile is tried (each may be below the minimum on its own); the smallest that fits sizes the VM.
      let sized: Profile | undefined;
      let last: Profile | undefined;
      for (const profile of profiles) {
        try {
          await tart.set(vm, { cpu: profile.cpu, ramMb: profile.ram_mb, randomMac: config.vm.random_mac });
          sized ??= profile;
          last = profile;
        } catch (err) {
          const text = err instanceof TartError ? err.stderrLine : (err as Error).message;
          if (!TOO_SMALL.test(text)) throw err;
          p.profiles[profile.name] = { reason: `ram_mb ${profile.ram_mb}, cpu ${profile.cpu} is below ${image}'s minimum (${text})`, fix: FIXES['image-too-small'] };
        }
      }
      if (!sized) return end('failed', 'image-too-small', `no profile of ${image} meets its minimum resources`);
      if (last !== sized) await tart.set(vm, { cpu: sized.cpu, ramMb: sized.ram_mb, randomMac: config.vm.random_mac });
      const softnet = profiles.some((x) => x.network === 'softnet');
      const deadline = clock.now() + config.vm.boot_timeout_seconds * 1000;
      await tart.run(vm, {
        cache: undefined,
        logFile: join(config.host.log_dir, `${vm}.log`),
        netSoftnet: softnet,
        netSoftnetAllow: [],
        netSoftnetBlock: [],
        rootDiskOpts: config.vm.root_disk_opts,
      });
      return await this.reach(vm, p, deadline, end);
    } catch (err) {
      return this.classifyTartFailure(err, p, end);
    } finally {
      await this.remove(vm);
    }
  }

  private classifyTartFailure(err: unknown, p: ImageProof, end: (s: ImageProof['status'], k?: ProofFailureKind, d?: string) => ImageProof): ImageProof {
    const text = err instanceof TartError ? `${err.stderrLine} ${err.message}` : (err as Error).message;
    // tart run's first line can be the guest's own boot output: then the whole message (with the
    // adapter's advice, which names a failure it found further down) says more.
    const detail = err instanceof TartError ? (/error|fail/i.test(err.stderrLine) ? err.stderrLine : err.message) : text;
    if (err instanceof TartError && err.kind === 'vz-limit') return end('pending', 'vz-limit', detail);
    if (err instanceof TartError && err.kind === 'out-of-disk') return end('pending', 'out-of-disk', detail);
    if (p.os === 'darwin' && KEYCHAIN_TEXTS.some((re) => re.test(text))) return end('failed', 'keychain', detail);
    // The adapter classifies from the whole stderr and attaches ADVICE.softnet (adapters/tart-errors.ts).
    if (SOFTNET_TEXTS.test(text) || text.includes(ADVICE.softnet)) return end('failed', 'softnet', detail);
    if (TOO_SMALL.test(text)) return end('failed', 'image-too-small', detail);
    return end('failed', 'other', detail);
  }

  /** Step 4: the guest agent, then SSH the way the daemon would deliver. */
  private async reach(vm: string, p: ImageProof, deadline: number, end: (s: ImageProof['status'], k?: ProofFailureKind, d?: string) => ImageProof): Promise<ImageProof> {
    const { config, clock } = this.deps;
    const mode = config.vm.runner_delivery;
    const agent = await this.execUntil(vm, ['true'], deadline);
    p.exec = agent.ok ? 'ok' : 'failed';
    if (!agent.ok) {
      // A VM that died after `run` stopped watching (Softnet without SUID, the VZ limit): the tart
      // adapter's `ip` reads this run's log and names the failure.
      const died = await this.deps.tart.ip(vm, 1).then(() => undefined, (err: unknown) => err);
      if (died instanceof TartError && died.kind !== 'no-ip' && died.kind !== 'timeout') return this.classifyTartFailure(died, p, end);
    }
    if (mode === 'exec') {
      if (!agent.ok) return end('failed', 'guest-agent', agent.detail);
      p.delivery = 'exec';
      return end('passed');
    }
    if (!this.deps.ssh) return end('failed', 'ssh-auth', 'no SSH credentials (TART_FLEET_SSH_PASSWORD or vm.ssh_private_key_path)');
    const sshdInGuest = agent.ok ? (await this.execUntil(vm, ['/usr/bin/nc', '-z', '127.0.0.1', String(config.vm.ssh_port)], clock.now() + 5000)).ok : false;
    const sshDeadline = agent.ok ? Math.min(deadline, clock.now() + SSH_WINDOW_MS) : deadline;
    const ssh = await this.sshLogin(vm, sshDeadline);
    if (ssh.ok) {
      p.ssh = 'ok';
      p.delivery = 'ssh';
      return end('passed');
    }
    if (ssh.kind === 'auth') {
      p.ssh = 'failed';
      return end('failed', 'ssh-auth', ssh.detail);
    }
    const blocked = agent.ok && sshdInGuest;
    p.ssh = blocked ? 'blocked' : 'failed';
    if (blocked && mode === 'ssh') {
      p.delivery = 'exec';
      p.warnings.push(`SSH to the guest is blocked (${ssh.detail}) although its sshd listens: macOS Local Network privacy. Runners are delivered through tart exec instead. Fix for SSH: ${FIXES['local-network']}`);
      return end('passed');
    }
    if (blocked) return end('failed', 'local-network', `${ssh.detail} (tart exec works and the guest's sshd listens: vm.runner_delivery is ssh-only)`);
    if (!agent.ok && clock.now() >= deadline) return end('failed', 'boot-timeout', `neither tart exec (${agent.detail}) nor SSH (${ssh.detail}) answered`);
    if (agent.ok && mode === 'ssh') {
      // sshd is not listening in the guest, but exec works: deliver through exec, say why.
      p.delivery = 'exec';
      p.warnings.push(`the guest's sshd does not answer (${ssh.detail}); runners are delivered through tart exec. ${FIXES['ssh-unreachable']}`);
      return end('passed');
    }
    return end('failed', 'ssh-unreachable', `${ssh.detail}${agent.ok ? '' : `; tart exec: ${agent.detail}`}`);
  }

  private async execUntil(vm: string, argv: string[], deadline: number): Promise<{ ok: boolean; detail: string }> {
    const { tart, clock } = this.deps;
    let detail = 'no answer';
    while (clock.now() < deadline && !this.stopped) {
      try {
        const r = await tart.execInGuest(vm, argv, { timeoutMs: Math.max(1000, Math.min(15_000, deadline - clock.now())) });
        if (r.exitCode === 0) return { ok: true, detail: '' };
        detail = r.stderr.trim().split('\n')[0] || `exit ${r.exitCode ?? 'by a signal'}`;
        if (r.exitCode === 2) break; // the VM is not running
        if (argv[0] !== 'true' && r.exitCode === 1 && !/control socket/.test(r.stderr)) break; // the command answered: no
      } catch (err) {
        detail = (err as Error).message;
        if (err instanceof TartError && err.kind === 'tart-missing') break;
      }
      await clock.sleep(500);
    }
    return { ok: false, detail };
  }

  private async sshLogin(vm: string, deadline: number): Promise<{ ok: true } | { ok: false; kind: 'auth' | 'network'; detail: string }> {
    const { config, tart, clock } = this.deps;
    let ip: string;
    try {
      ip = await tart.ip(vm, Math.max(1, Math.ceil((deadline - clock.now()) / 1000)));
    } catch (err) {
      return { ok: false, kind: 'network', detail: `tart ip: ${(err as Error).message}` };
    }
    try {
      const shell = await GuestShell.connect(ip, deadline, { user: config.vm.ssh_user, port: config.vm.ssh_port, hostKey: config.vm.ssh_host_key, ...this.deps.ssh!, readyTimeoutMs: 3000, retryDelayMs: 500 });
      try {
        const r = await shell.exec('true', 10_000);
        return r.code === 0 ? { ok: true } : { ok: false, kind: 'network', detail: `ssh ran true: exit ${r.code ?? 'none'}` };
      } finally {
        shell.close();
      }
    } catch (err) {
      const detail = (err as Error).message;
      const auth = /authentication methods failed|does not match the pinned|private ?key/i.test(detail);
      return { ok: false, kind: auth ? 'auth' : 'network', detail };
    }
  }
}

function blank(image: string): ImageProof {
  return { image, status: 'pending', os: null, started_at: null, finished_at: null, ssh: 'not-tried', exec: 'not-tried', delivery: null, failure: null, warnings: [], profiles: {} };
}

/** The images the profiles use, in profile order. */
export function imagesOf(config: Config): string[] {
  return [...new Set(Object.values(config.profiles).map((p) => imageOf(p, config)))];
}

function profilesOf(config: Config, image: string): Profile[] {
  return Object.values(config.profiles).filter((p) => imageOf(p, config) === image);
}

/** The proof file as the daemon last wrote it, or undefined (none, or unreadable). */
export function readBootProof(stateDir: string): (BootProofReport & { age_s: number }) | undefined {
  const file = statePaths({ state_dir: stateDir }).bootProof;
  try {
    const report = JSON.parse(readFileSync(file, 'utf8')) as BootProofReport;
    return { ...report, age_s: Math.max(0, Math.round((Date.now() - statSync(file).mtimeMs) / 1000)) };
  } catch {
    return undefined;
  }
}

/**
 * The daemon's start-up proof (`vm.boot_proof`, default on): starts it in the background, makes
 * delivery follow it and answers `selftest --as-daemon`. Undefined when the proof is off.
 */
export function startBootProof(
  config: Config,
  adapters: { tart: TartAdapter; clock: Clock; logger: Logger; sshCredentials?: SshCredentials; delivery?: { follow(by: (image: string) => 'ssh' | 'exec' | null): void } },
): BootProof | undefined {
  if (!config.vm.boot_proof) return undefined;
  const proof = new BootProof({ config, tart: adapters.tart, clock: adapters.clock, logger: adapters.logger.child({ component: 'boot-proof' }), ssh: adapters.sshCredentials });
  adapters.delivery?.follow((image) => proof.delivery(image));
  void proof.run();
  proof.watchRequests();
  return proof;
}

/** The planner's view (core/proof-gate.ts) of proof results, e.g. of the file for `ls --live`. */
export function proofViewOf(images: Record<string, ImageProof> | undefined): BootProofView | undefined {
  if (!images) return undefined;
  const out: BootProofView = {};
  for (const [image, p] of Object.entries(images)) {
    const v: ImageProofView = { status: p.status };
    if (p.failure) {
      v.reason = `${p.failure.kind}: ${p.failure.detail}`;
      v.fix = p.failure.fix;
    }
    if (Object.keys(p.profiles).length > 0) v.profiles = p.profiles;
    out[image] = v;
  }
  return out;
}
