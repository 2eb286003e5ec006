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
 * 3. It ends when the guest powers off (`guest has stopped the virtual machine`, exit 0), on SIGINT
 *    or `tart stop` (`Stopping VM...`, hard power-off, exit 0), on SIGUSR2 (graceful request), or
 *    on an injected crash (`guest has stopped the virtual machine due to error: …`, still exit 0).
 *    SIGTERM has no handler, as in real tart: the process dies at once and leaves a stale pid that
 *    liveness checks ignore.
 *
 * ## Gotchas
 * - SIGUSR1 (tart suspend) gets a no-op handler: Node's default would open the inspector.
 * - The guest module is imported through a computed specifier so that this file compiles and the
 *   stub works even when the guest module is absent.
 */
import type { Fault, SimStore } from './store.js';
import { isAlive } from './store.js';
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

type ExitReason = 'guest-shutdown' | 'stopped' | 'guest-error';

export async function runVm(store: SimStore, name: string, env: NodeJS.ProcessEnv, fault: Fault | undefined): Promise<number> {
  const sim = simSettings(env);
  const pid = process.pid;

  const registered = await store.withLock((): { code: number } | { ip: string; os: string; cpu: number; memoryMb: number } => {
    if (!store.exists(name)) {
      err(`Error: the specified VM "${name}" does not exist`);
      return { code: 1 };
    }
    if (store.isRunning(name)) {
      err(`VM "${name}" is already running!`);
      return { code: 2 };
    }
    const cfg = store.readConfig(name);
    if (cfg.os === 'darwin') {
      const others = runningDarwin(store, name);
      if (others.length >= sim.maxRunning) {
        err(vzLimitText(others));
        return { code: 1 };
      }
    }
    const ip = store.allocateIp(name);
    const now = Date.now();
    store.writeRunState(name, { ip, pid, startedAt: now, bootedAt: now + sim.bootMs });
    return { ip, os: cfg.os, cpu: cfg.cpuCount, memoryMb: Math.round(cfg.memorySize / (1024 * 1024)) };
  });
  if ('code' in registered) return registered.code;
  store.event({ event: 'run-start', vm: name, pid, ip: registered.ip, os: registered.os, cpu: registered.cpu, memoryMb: registered.memoryMb });

  // Signal handlers do not keep Node's event loop alive; the VM must live until something ends it.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  let resolveEnd!: (r: { reason: ExitReason; detail?: string }) => void;
  const ended = new Promise<{ reason: ExitReason; detail?: string }>((r) => (resolveEnd = r));
  process.on('SIGINT', () => resolveEnd({ reason: 'stopped' }));
  process.on('SIGUSR2', () => {
    out('Requesting guest OS to stop...');
    resolveEnd({ reason: 'guest-shutdown' });
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
  if (fault?.crashAfterMs !== undefined) {
    setTimeout(() => resolveEnd({ reason: 'guest-error', detail: 'simulated VM crash (faults.json)' }), fault.crashAfterMs / sim.speed);
  }

  const end = await ended;
  if (end.reason === 'stopped') {
    out('Stopping VM...');
    // A VM that never finishes stopping, so that `tart stop` must SIGKILL it after its --timeout.
    if (fault?.stuckOnStop) await new Promise(() => undefined);
    clearInterval(keepAlive);
    await guest.stop();
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
    if (!store.exists(name)) return; // deleted under us (only possible after a SIGKILL race)
    const st = store.runState(name);
    if (st.pid === pid || (st.pid !== undefined && !isAlive(st.pid))) store.writeRunState(name, { ip: st.ip });
  });
  store.event({ event: 'run-exit', vm: name, pid, reason });
}
