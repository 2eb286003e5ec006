/**
 * `tart-fleet selftest`: proves on this Mac, without GitHub, that the golden image can serve a job:
 * clone it, boot it headless as the daemon does (same tart adapter, same run options), find its IP,
 * SSH in with the daemon's credentials, check the runner version, the tools on PATH and the cache
 * mount, then stop and delete the clone. One line per step (`ok`/`warn`/`FAIL`), exit 1 on a FAIL.
 *
 * ## Lifecycle
 * golden image present? → clone `tf-<runner_name>-selftest-<pid>` → set CPU/RAM of the profile →
 * run → ip → ssh → checks → stop + delete (always: on success, failure, and SIGINT/SIGTERM).
 *
 * ## Gotchas
 * - The clone is named like the daemon's VMs (`tf-<runner_name>-<profile>-<number>`), so it counts in
 *   the RAM ledger and, if this command is killed hard, `teardown` or the daemon collects it. Run
 *   it while the daemon is stopped, or the daemon may reap the clone (it serves no job) mid-test.
 * - A guest that cannot run a check command at all (exit 127, "command not found" for a command
 *   that every macOS has) gives "unknown", a warn, not a FAIL: the check proved nothing either way.
 *   A missing runner binary is "no such file" on a real guest, and that is a FAIL.
 * - GitHub is never contacted: no runner is created, so the runner is checked by its version only.
 * - Run from a Terminal or SSH shell, this proves nothing about launchd: that shell has its own
 *   login keychain and security session and is exempt from Local Network privacy, the daemon is
 *   not. `selftest --as-daemon` (selftest-daemon.ts) has the running daemon boot each image in its
 *   own context (docs/boot-proof.md).
 */
import { mkdirSync } from 'node:fs';
import type { Config, Profile } from '../config/types.js';
import { imageOf } from '../config/types.js';
import { TartError, type Tart } from '../core/ports.js';
import { sshCredentials } from '../adapters/ssh.js';
import { GuestShell, type ExecResult } from '../adapters/ssh-exec.js';
import { stopAndDelete } from '../daemon/vm-removal.js';
import { countChecks, formatCheck, summaryLine, type CheckResult } from './checks.js';
import { loadForCommand } from './config.js';
import { ExitError, isTTY, println, type CliContext } from './context.js';
import { buildTart, buildLogger, quietContext, secretEnv } from './wiring.js';
import { Secrets } from '../secrets/redact.js';
import { runLogFile } from '../config/paths.js';

/** GitHub refuses to register runners older than this (images/scripts/30-actions-runner.sh). */
export const MIN_RUNNER_VERSION = '2.329.0';
/** Where the guest sees `tart run --dir cache:<host.cache_dir>` (images/README.md). */
export const GUEST_CACHE_DIR = '/Volumes/My Shared Files/cache';
const TOOLS = ['node', 'brew', 'git'];

export interface SelftestOptions {
  config?: string;
  profile?: string;
}

/** How the command hears Ctrl-C; tests and the CLI pass the process's signals. */
export interface SelftestDeps {
  onInterrupt: (handler: () => void) => () => void;
}

export function processInterrupts(): SelftestDeps {
  return {
    onInterrupt: (handler) => {
      process.once('SIGINT', handler);
      process.once('SIGTERM', handler);
      return () => {
        process.off('SIGINT', handler);
        process.off('SIGTERM', handler);
      };
    },
  };
}

export async function selftestCommand(ctx: CliContext, opts: SelftestOptions, deps: SelftestDeps = processInterrupts()): Promise<number> {
  const { config } = loadForCommand(ctx, opts.config);
  const profile = pickProfile(config, opts.profile);
  const env = secretEnv(ctx);
  let credentials;
  try {
    credentials = sshCredentials(env, config.vm);
  } catch (err) {
    throw new ExitError(2, [(err as Error).message]);
  }
  const quiet = quietContext({ ...ctx, env });
  const secrets = new Secrets();
  secrets.add(credentials.password);
  secrets.add(credentials.privateKey);
  const tart = buildTart(quiet, buildLogger(quiet, secrets));
  const image = imageOf(profile, config);
  const name = `tf-${config.github.runner_name}-selftest-${process.pid}`;
  const results: CheckResult[] = [];
  const report = (r: CheckResult) => {
    results.push(r);
    println(ctx.stdout, formatCheck(r));
  };
  const progress = (text: string) => {
    if (isTTY(ctx.stderr)) println(ctx.stderr, `${text}…`);
  };

  // Fail fast and clearly when there is nothing to clone.
  let names: string[];
  try {
    names = (await tart.list()).map((v) => v.name);
  } catch (err) {
    throw new ExitError(1, [`tart list failed: ${(err as Error).message}`]);
  }
  if (!names.includes(image)) {
    throw new ExitError(1, [`golden image ${image} not found: build it with images/build-workhorse.sh (images/README.md), or set vm.image / profiles.${profile.name}.image`]);
  }

  let created = false;
  let interrupted = false;
  /** Between steps: after a signal, start nothing new. */
  const step = () => {
    if (interrupted) throw new Error('interrupted');
  };
  const off = deps.onInterrupt(() => {
    if (interrupted) return;
    interrupted = true;
    println(ctx.stderr, 'interrupted: removing the clone…');
    // Removing it at once also ends a wait for its IP or its sshd; the flow then settles.
    if (created) void stopAndDelete(tart, name, { stop: true }).catch(() => undefined);
  });
  try {
    progress(`cloning ${image}`);
    created = true; // from here on, a half-made clone may exist: always clean up
    await tart.clone(image, name);
    step();
    await tart.set(name, { cpu: profile.cpu, ramMb: profile.ram_mb, randomMac: config.vm.random_mac });
    report({ status: 'ok', what: 'clone', detail: `${image} → ${name} (${profile.cpu} CPU, ${profile.ram_mb} MB, profile ${profile.name})` });
    mkdirSync(config.host.log_dir, { recursive: true });
    const started = Date.now();
    progress(`booting ${name} (up to ${config.vm.boot_timeout_seconds} s)`);
    step();
    await tart.run(name, {
      // The profile's own share and network, as its jobs get them (a clone's copy is not made here:
      // the check is that the share mounts, so the cache dir itself is shared read-only).
      cache: profile.cache === 'none' ? undefined : { dir: profile.cache_dir, readOnly: profile.cache !== 'rw' },
      logFile: runLogFile(config.host, name),
      netSoftnet: profile.network === 'softnet',
      netSoftnetAllow: profile.network === 'softnet' ? profile.net_softnet_allow : [],
      netSoftnetBlock: profile.network === 'softnet' ? profile.net_softnet_block : [],
      rootDiskOpts: config.vm.root_disk_opts,
    });
    const deadline = started + config.vm.boot_timeout_seconds * 1000;
    step();
    const ip = await tart.ip(name, Math.max(1, Math.ceil((deadline - Date.now()) / 1000)));
    report({ status: 'ok', what: 'boot', detail: `${name} has IP ${ip} after ${((Date.now() - started) / 1000).toFixed(1)} s` });
    progress(`connecting to ${config.vm.ssh_user}@${ip}`);
    step();
    const shell = await GuestShell.connect(ip, Math.max(deadline, Date.now() + 5000), {
      user: config.vm.ssh_user,
      port: config.vm.ssh_port,
      hostKey: config.vm.ssh_host_key,
      ...credentials,
    });
    try {
      report({ status: 'ok', what: 'ssh', detail: `${config.vm.ssh_user}@${ip}:${config.vm.ssh_port} (host key ${config.vm.ssh_host_key === 'accept-any' ? 'not pinned' : 'pinned'})` });
      for (const check of guestChecks()) {
        step();
        report(check.judge(await shell.exec(check.command)));
      }
    } finally {
      shell.close();
    }
  } catch (err) {
    if (interrupted) report({ status: 'fail', what: 'interrupted', detail: 'stopped by a signal before the checks finished' });
    else report({ status: 'fail', what: stepOf(err), detail: secrets.redactText((err as Error).message), ...fixFor(err) });
  } finally {
    off();
    if (created) await removeClone(tart, name, report);
  }
  const counts = countChecks(results);
  println(ctx.stdout, summaryLine(counts));
  println(ctx.stdout, 'note: this ran in your shell, which proves nothing about launchd (keychain, Local Network privacy); `selftest --as-daemon` asks the running daemon to boot each image in its own context');
  if (interrupted) return 130;
  return counts.fail > 0 ? 1 : 0;
}

function pickProfile(config: Config, name: string | undefined): Profile {
  const all = Object.values(config.profiles);
  if (name !== undefined) {
    const p = config.profiles[name];
    if (!p) throw new ExitError(2, [`--profile: no profile ${JSON.stringify(name)} in pipeline.yml (have: ${all.map((x) => x.name).join(', ')})`]);
    return p;
  }
  // The smallest: the quickest to boot and the likeliest to fit beside a running daemon.
  return all.reduce((a, b) => (b.ram_mb < a.ram_mb ? b : a));
}

async function removeClone(tart: Tart, name: string, report: (r: CheckResult) => void): Promise<void> {
  try {
    await stopAndDelete(tart, name, { stop: true });
    report({ status: 'ok', what: 'cleanup', detail: `${name} stopped and deleted` });
  } catch (err) {
    report({ status: 'fail', what: 'cleanup', detail: `${name}: ${(err as Error).message}`, fix: `tart stop ${name}; tart delete ${name} (or tart-fleet teardown)` });
  }
}

function stepOf(err: unknown): string {
  if (err instanceof TartError) return `tart ${err.command[0] ?? ''}`.trim();
  if (/^ssh /.test((err as Error).message)) return 'ssh';
  return 'selftest';
}

function fixFor(err: unknown): { fix?: string } {
  if (err instanceof TartError && err.kind === 'no-ip') return { fix: 'the guest got no DHCP lease: see the run log in host.log_dir and the DHCP lease advice of `tart-fleet validate`' };
  if (err instanceof TartError && err.kind === 'vz-limit') return { fix: 'two macOS VMs already run on this Mac: stop one (or the daemon) and retry' };
  if (/authentication|auth/i.test((err as Error).message)) return { fix: 'check vm.ssh_user and TART_FLEET_SSH_PASSWORD(_FILE) / vm.ssh_private_key_path against the golden image' };
  return {};
}

/** The guest could not run the check at all (the simulated guest, or a broken shell): proves nothing. */
function cannotRun(r: ExecResult): boolean {
  return r.code === 127 && /command not found/.test(r.stderr);
}

const unknown = (what: string, r: ExecResult): CheckResult => ({
  status: 'warn',
  what,
  detail: `unknown: the guest could not run the check (${firstLine(r.stderr) || `exit ${r.code}`})`,
});

function firstLine(s: string): string {
  return (s.split('\n').find((l) => l.trim() !== '') ?? '').trim().slice(0, 200);
}

interface GuestCheck {
  command: string;
  judge: (r: ExecResult) => CheckResult;
}

export function guestChecks(): GuestCheck[] {
  return [
    {
      command: '"$HOME/actions-runner/bin/Runner.Listener" --version',
      judge: (r) => {
        const what = 'runner version';
        if (cannotRun(r)) return unknown(what, r);
        const version = /(\d+\.\d+\.\d+)/.exec(r.stdout)?.[1];
        if (r.code !== 0 || version === undefined) {
          return { status: 'fail', what, detail: `~/actions-runner/bin/Runner.Listener --version failed (exit ${r.code}): ${firstLine(r.stderr) || firstLine(r.stdout) || 'no output'}`, fix: 'rebuild the golden image: images/build-workhorse.sh (scripts/30-actions-runner.sh installs the runner)' };
        }
        return compareVersions(version, MIN_RUNNER_VERSION) >= 0
          ? { status: 'ok', what, detail: `${version} (GitHub needs ${MIN_RUNNER_VERSION} or later)` }
          : { status: 'fail', what, detail: `${version} is older than ${MIN_RUNNER_VERSION}: GitHub refuses to register it`, fix: 'raise PINNED_VERSION in images/scripts/30-actions-runner.sh and rebuild the image' };
      },
    },
    ...TOOLS.map((tool) => ({
      // A login shell: the runner's jobs get Homebrew's PATH from the profile, as a login shell does.
      command: `/bin/zsh -lc 'command -v ${tool}'`,
      judge: (r: ExecResult): CheckResult => {
        const what = `guest ${tool}`;
        if (cannotRun(r)) return unknown(what, r);
        return r.code === 0 && r.stdout.trim() !== ''
          ? { status: 'ok', what, detail: r.stdout.trim().split('\n')[0]! }
          : { status: 'fail', what, detail: `${tool} is not on the guest's PATH`, fix: `install it in the golden image (images/scripts/50-workhorse.sh) and rebuild` };
      },
    })),
    {
      command: `test -d '${GUEST_CACHE_DIR}' && test -w '${GUEST_CACHE_DIR}'`,
      judge: (r) => {
        const what = 'cache mount';
        if (cannotRun(r)) return unknown(what, r);
        return r.code === 0
          ? { status: 'ok', what, detail: `${GUEST_CACHE_DIR} is mounted and writable` }
          : { status: 'fail', what, detail: `${GUEST_CACHE_DIR} is missing or read-only in the guest`, fix: 'check host.cache_dir exists and is writable by the daemon user; the run log in host.log_dir shows the --dir argument' };
      },
    },
  ];
}

/** -1, 0 or 1 for dotted numeric versions. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}
