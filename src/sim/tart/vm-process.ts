/**
 * The fake `tart run <name>`: this process IS the simulated VM. It registers itself (pid, IP) in
 * TART_HOME, starts the simulated guest in-process and blocks until the VM ends, printing what real
 * tart prints (facts sheet §1.2).
 *
 * ## Lifecycle
 * 1. Under the global lock: VM exists (`Error: the specified VM "x" does not exist`, exit 1), not
 *    running already (`VM "x" is already running!`, exit 2), VZ limit not reached for macOS guests
 *    (`The number of VMs exceeds the system limit (other running VMs: a, b)`, exit 1), then the pid,
 *    IP and boot deadline go into `sim-run.json`.
 * 2. The guest starts (`startSimulatedGuest` from ../guest/guest.js, loaded dynamically; a stub with
 *    `TART_SIM_GUEST=none`). IP and SSH answer after `TART_SIM_BOOT_MS / TART_SIM_SPEED`.
 *    Before that, like real tart: a `--dir` whose host path is missing fails with VZErrorDomain Code=2
 *    (exit 1), and Softnet fails unless the simulated Mac has it installed setuid root
 *    (`TART_SIM_SOFTNET`: unset/`missing` → `Error: InitializationFailed(why: "softnet not found in
 *    PATH")` at once; `no-suid` → the VM starts, then `RuntimeFailed(why: "Softnet process terminated
 *    prematurely")`, exit 1, as under a daemon where tart never offers to set the SUID bit;
 *    `setuid` → works). The shares go into `sim-shares.json`; `control.sock` answers `tart exec`
 *    once the guest has booted (its agent is up), unless `TART_SIM_GUEST_AGENT=none`.
 * 3. It ends when the guest powers off (`guest has stopped the virtual machine`, exit 0), on SIGINT
 *    or `tart stop` (`Stopping VM...`, hard power-off, exit 0), on SIGUSR2 (a shutdown request: Linux
 *    guests power off; macOS guests only show a dialog nobody answers, so nothing happens), on an
 *    injected crash (`guest has stopped the virtual machine due to error: …`, still exit 0), or on an
 *    injected late death (`dieAfterMs`: the fault's text on stderr, exit 1).
 *    SIGTERM has no handler, as in real tart: the process dies at once and leaves a stale pid that
 *    liveness checks ignore.
 *
 * ## Gotchas
 * - SIGUSR1 (tart suspend) gets a no-op handler: Node's default would open the inspector.
 * - The guest module is imported through a computed specifier so that this file compiles and the
 *   stub works even when the guest module is absent.
 */
import { createServer, type Server } from 'node:net';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { SimStore } from './store.js';
import { isAlive, MISSING_FILES_TEXT } from './store.js';
import { guestShell, missingShareText, readShares as readSharesOf, writeShares, type Share } from './shares.js';
import type { SimulatedGuest, SimulatedGuestOptions } from '../guest/guest.js';

type StartGuest = (opts: SimulatedGuestOptions) => Promise<SimulatedGuest>;

export interface SimSettings {
  speed: number;
  bootMs: number;
  maxRunning: number;
  sshPort: number;
}

export function simSettings(env: NodeJS.ProcessEnv): SimSettings {
  const num = (v: string | undefined, d: number) => {
    const n = v === undefined || v === '' ? NaN : Number(v);
    return Number.isFinite(n) && n >= 0 ? n : d;
  };
  const speed = num(env.TART_SIM_SPEED, 1) || 1;
  return {
    speed,
    bootMs: num(env.TART_SIM_BOOT_MS, 300) / speed,
    maxRunning: num(env.TART_SIM_MAX_RUNNING, 2),
    sshPort: num(env.TART_SIM_SSH_PORT, 2222),
  };
}

const out = (line: string) => process.stdout.write(`${line}\n`);
const err = (line: string) => process.stderr.write(`${line}\n`);

/** The text real tart prints when the VZ limit is hit; the hint lists the running VMs, if any. */
export function vzLimitText(running: string[]): string {
  return `The number of VMs exceeds the system limit${running.length > 0 ? ` (other running VMs: ${running.join(', ')})` : ''}`;
}

/** Names of running VMs other than `except`: real tart's hint lists them all, Linux too (Run.swift:482-493). */
export function runningVms(store: SimStore, except?: string): string[] {
  return store.names().filter((n) => n !== except && store.isRunning(n));
}

/**
 * The `--root-disk-opts` error real tart prints (a RuntimeError: no prefix, exit 1), or undefined.
 * Run.swift: `sync=` is full|fsync|none, `caching=` automatic|cached|uncached; other words are ignored.
 */
export function rootDiskOptsProblem(opts: string): string | undefined {
  for (const word of opts.split(',')) {
    const [k, v = ''] = word.split('=');
    if (k === 'sync' && !['full', 'fsync', 'none'].includes(v)) return `unsupported disk image synchronization mode: "${v}"`;
    if (k === 'caching' && !['automatic', 'cached', 'uncached'].includes(v)) return `unsupported disk image caching mode: "${v}"`;
  }
  return undefined;
}

/** Names of running macOS VMs other than `except` (they count against the VZ limit). */
export function runningDarwin(store: SimStore, except?: string): string[] {
  return store.names().filter((n) => n !== except && store.isRunning(n) && store.readConfig(n).os === 'darwin');
}

async function loadGuest(env: NodeJS.ProcessEnv): Promise<StartGuest> {
  if (env.TART_SIM_GUEST === 'none') return stubGuest(env);
  const specifier = new URL('../guest/guest.js', import.meta.url).href;
  const mod = (await import(specifier)) as { startSimulatedGuest: StartGuest };
  return mod.startSimulatedGuest;
}

/** A guest that does nothing; it powers off after TART_SIM_STUB_POWEROFF_MS (scaled) if set. */
function stubGuest(env: NodeJS.ProcessEnv): StartGuest {
  return (opts) => {
    let resolveOff!: () => void;
    const poweredOff = new Promise<void>((r) => (resolveOff = r));
    const after = Number(env.TART_SIM_STUB_POWEROFF_MS);
    const speed = Number(env.TART_SIM_SPEED) || 1;
    let timer: NodeJS.Timeout | undefined;
    if (Number.isFinite(after) && after > 0) timer = setTimeout(resolveOff, after / speed);
    opts.log(`guest: stub guest for ${opts.vmName} on ${opts.ip}`);
    return Promise.resolve({
      poweredOff,
      stop: () => {
        clearTimeout(timer);
        return Promise.resolve();
      },
    });
  };
}

type ExitReason = 'guest-shutdown' | 'stopped' | 'guest-error' | 'died';

export interface RunVmOptions {
  /** `tart run`'s own arguments, recorded in the `run-start` event. */
  argv?: string[];
  shares: Share[];
  /** `--root-disk-opts`, checked when the VM's disk is attached. */
  rootDiskOpts?: string;
  softnet: boolean;
  /** Injected crash: the guest stops with an error after this (scaled) time, tart exits 0. */
  crashAfterMs?: number;
  /** Injected late death: after this many real ms, `text` on stderr and exit 1. */
  die?: { afterMs: number; text: string };
  stuckOnStop?: boolean;
}

/**
 * What `tart run` of a macOS 15+ guest prints when the user running it has no unlocked login
 * keychain (a LaunchDaemon's user that never logged in, or root): Virtualization.framework's XPC
 * service cannot create its key pair (`SecKeyCreateRandomKey_ios … -25308`, only in `log show`) and
 * tart reports VZErrorDomain Code=1, exit 1. Verbatim from cirruslabs/tart #921 (root, 15.0.1 host),
 * #1132 (headless mini, user never logged in to the GUI), #1025 and #1067; tart's FAQ "Headless
 * machines": "Without an existing and unlocked login.keychain, the VM won't start". macOS ≤ 14 and
 * Linux guests are not affected (#921: "macOS v14 VMs still work as root").
 */
export const KEYCHAIN_LOCKED_TEXT =
  'Error Domain=VZErrorDomain Code=1 "The virtual machine failed to start." UserInfo={NSLocalizedFailure=Internal Virtualization error., NSLocalizedFailureReason=The virtual machine failed to start.}';

export const SOFTNET_MISSING_TEXT = 'Error: InitializationFailed(why: "softnet not found in PATH")';
export const SOFTNET_DIED_TEXT = 'Error: root privileges are required to run and passwordless sudo was not available\nRuntimeFailed(why: "Softnet process terminated prematurely")';

export async function runVm(store: SimStore, name: string, env: NodeJS.ProcessEnv, opts: RunVmOptions): Promise<number> {
  const sim = simSettings(env);
  const pid = process.pid;
  const softnet = env.TART_SIM_SOFTNET || 'missing';
  let die = opts.die;
  if (opts.softnet && softnet === 'no-suid') die = { afterMs: 500, text: SOFTNET_DIED_TEXT };

  const registered = await store.withLock((): { code: number } | { ip: string; os: string; cpu: number; ramMb: number } => {
    if (store.incomplete(name)) {
      err(`Error: ${MISSING_FILES_TEXT}`);
      return { code: 1 };
    }
    if (!store.exists(name)) {
      err(`Error: the specified VM "${name}" does not exist`);
      return { code: 1 };
    }
    if (store.isRunning(name)) {
      err(`VM "${name}" is already running!`);
      return { code: 2 };
    }
    const missing = opts.shares.find((sh) => !existsSync(sh.hostPath));
    if (missing) {
      err(missingShareText());
      return { code: 1 };
    }
    if (opts.softnet && softnet !== 'setuid' && softnet !== 'no-suid') {
      err(SOFTNET_MISSING_TEXT);
      return { code: 1 };
    }
    const diskProblem = opts.rootDiskOpts !== undefined ? rootDiskOptsProblem(opts.rootDiskOpts) : undefined;
    if (diskProblem) {
      err(diskProblem);
      return { code: 1 };
    }
    const cfg = store.readConfig(name);
    // The session context of whoever runs `tart run` (see KEYCHAIN_LOCKED_TEXT). Every simulated
    // macOS image counts as a 15+ guest (the default base image is Sequoia).
    if (cfg.os === 'darwin' && (env.TART_SIM_KEYCHAIN === 'locked' || env.TART_SIM_KEYCHAIN === 'none')) {
      err(KEYCHAIN_LOCKED_TEXT);
      return { code: 1 };
    }
    if (cfg.os === 'darwin') {
      const others = runningDarwin(store, name);
      if (others.length >= sim.maxRunning) {
        err(vzLimitText(runningVms(store, name)));
        return { code: 1 };
      }
    }
    const ip = store.allocateIp(name);
    const now = Date.now();
    store.writeRunState(name, { ip, pid, startedAt: now, bootedAt: now + sim.bootMs });
    writeShares(store.vmDir(name), opts.shares);
    return { ip, os: cfg.os, cpu: cfg.cpuCount, ramMb: Math.round(cfg.memorySize / (1024 * 1024)) };
  });
  if ('code' in registered) return registered.code;
  store.event({ event: 'run-start', vm: name, pid, ip: registered.ip, os: registered.os, cpu: registered.cpu, ramMb: registered.ramMb, argv: opts.argv ?? [], shares: opts.shares });

  // Signal handlers do not keep Node's event loop alive; the VM must live until something ends it.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  let resolveEnd!: (r: { reason: ExitReason; detail?: string }) => void;
  const ended = new Promise<{ reason: ExitReason; detail?: string }>((r) => (resolveEnd = r));
  process.on('SIGINT', () => resolveEnd({ reason: 'stopped' }));
  process.on('SIGUSR2', () => {
    out('Requesting guest OS to stop...');
    // macOS answers with a "shut down?" dialog in the guest (Run.swift:584); nobody clicks it.
    if (registered.os !== 'darwin') resolveEnd({ reason: 'guest-shutdown' });
  });
  process.on('SIGUSR1', () => out('suspend is not simulated'));

  let guest: SimulatedGuest;
  try {
    const start = await loadGuest(env);
    guest = await start({
      vmName: name,
      ip: registered.ip,
      sshPort: sim.sshPort,
      vmDir: store.vmDir(name),
      bootDelayMs: sim.bootMs,
      env,
      log: out,
    });
  } catch (e) {
    err(`Error: the simulated guest failed to start: ${(e as Error).message}`);
    clearInterval(keepAlive);
    await unregister(store, name, pid, 'startup-failed');
    return 1;
  }
  void guest.poweredOff.then(() => resolveEnd({ reason: 'guest-shutdown' }));
  if (opts.crashAfterMs !== undefined) {
    setTimeout(() => resolveEnd({ reason: 'guest-error', detail: 'simulated VM crash (faults.json)' }), opts.crashAfterMs / sim.speed);
  }
  if (die) {
    const text = die.text;
    setTimeout(() => resolveEnd({ reason: 'died', detail: text }), die.afterMs);
  }
  const control = env.TART_SIM_GUEST_AGENT === 'none' ? undefined : await listenControl(store, name, guest, () => Date.now() >= bootedAt(store, name));

  const end = await ended;
  control?.close();
  rmSync(join(store.vmDir(name), 'control.sock'), { force: true });
  if (end.reason === 'stopped') {
    out('Stopping VM...');
    // A VM that never finishes stopping, so that `tart stop` must SIGKILL it after its --timeout.
    if (opts.stuckOnStop) await new Promise(() => undefined);
    clearInterval(keepAlive);
    await guest.stop();
  } else if (end.reason === 'died') {
    clearInterval(keepAlive);
    await guest.stop();
    err(end.detail ?? 'Error: the VM died');
    await unregister(store, name, pid, 'died');
    return 1;
  } else if (end.reason === 'guest-error') {
    clearInterval(keepAlive);
    await guest.stop();
    out(`guest has stopped the virtual machine due to error: ${end.detail ?? 'unknown'}`);
  } else {
    clearInterval(keepAlive);
    await guest.stop();
    out('guest has stopped the virtual machine');
  }
  await unregister(store, name, pid, end.reason);
  return 0;
}

async function unregister(store: SimStore, name: string, pid: number, reason: string): Promise<void> {
  await store.withLock(() => {
    // The event first: the tests' RAM and VM bounds replay the event log, and `tart list` shows the VM
    // stopped from the moment the run state is written. An event stamped after that (a loaded machine
    // can take a while between the two) would show a VM still running next to the one admitted in its
    // place.
    store.event({ event: 'run-exit', vm: name, pid, reason });
    if (!store.exists(name)) return; // deleted under us (only possible after a SIGKILL race)
    const st = store.runState(name);
    if (st.pid === pid || (st.pid !== undefined && !isAlive(st.pid))) store.writeRunState(name, { ip: st.ip });
  });
}

function bootedAt(store: SimStore, name: string): number {
  return store.runState(name).bootedAt ?? Number.POSITIVE_INFINITY;
}

/**
 * The VM's control socket (`vms/<name>/control.sock`), which `tart exec` talks to. Sim protocol: one
 * JSON line in (`{argv, stdin}`), one JSON line out (`{stdout, stderr, code}` or `{agent: false}`
 * while the guest agent is not up yet).
 */
async function listenControl(store: SimStore, name: string, guest: SimulatedGuest, agentUp: () => boolean): Promise<Server | undefined> {
  const vmDir = store.vmDir(name);
  const path = join(vmDir, 'control.sock');
  rmSync(path, { force: true });
  const server = createServer((sock) => {
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      let reply: unknown;
      try {
        const req = JSON.parse(buf.slice(0, nl)) as { argv: string[]; stdin?: string };
        if (!agentUp()) {
          reply = { agent: false };
        } else {
          // File commands first; anything else goes to the guest itself (the runner start command).
          const shell = guestShell(vmDir, readSharesOf(vmDir), req.argv, req.stdin ?? '');
          // `zsh -c "<command>"` is what a shell would run: the guest sees the command string.
          const [first, flag, script] = req.argv;
          const viaShell = first !== undefined && /^(\/bin\/)?(sh|bash|zsh)$/.test(first) && flag === '-c' && script !== undefined;
          const command = viaShell ? script : req.argv.join(' ');
          const viaGuest = shell.code === 127 && guest.execCommand ? guest.execCommand(command, req.stdin ?? '') : undefined;
          reply = viaGuest ? { stdout: '', ...viaGuest } : shell;
        }
      } catch (e) {
        reply = { stdout: '', stderr: `${(e as Error).message}\n`, code: 1 };
      }
      sock.end(`${JSON.stringify(reply)}\n`);
    });
    sock.on('error', () => undefined);
  });
  server.unref();
  return new Promise((resolve) => {
    server.once('error', (e) => {
      err(`control socket: ${(e as Error).message}`);
      resolve(undefined);
    });
    server.listen(path, () => resolve(server));
  });
}
