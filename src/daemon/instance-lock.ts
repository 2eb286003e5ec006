/**
 * One daemon per state dir: `run` takes `<state_dir>/daemon.pid` before its first tick and gives it
 * back when it stops. A second `run` on the same state dir (a terminal test while launchd runs the
 * daemon) ends at once with a message naming the other daemon's pid and the state dir, instead of
 * ticking beside it with the same runner name, memory and snapshot.
 *
 * Why a pid file created with O_EXCL (`open(…, 'wx')`), not proper-lockfile: the message must name
 * the holder's pid, which proper-lockfile's mkdir lock does not keep; and proper-lockfile judges a lock
 * stale by an mtime it refreshes on a timer (10 s by default), so a daemon whose event loop stalls
 * longer (a large org's tick on a busy Mac) would find its lock "compromised" and lose it. Liveness
 * by pid needs no timer.
 *
 * ## Gotchas
 * - Stale detection: the file is stale when its pid no longer exists (`kill(pid, 0)`: ESRCH; EPERM
 *   means it exists under another user), or when the file is older than this boot (a pid from before
 *   a reboot may now belong to anything). A stale file is replaced, and the replacement is read back:
 *   of two daemons replacing the same stale file at once, the one whose pid is not in it backs off.
 * - Released only by its owner: `release()` removes the file only while it still holds our pid.
 *   A SIGKILLed daemon leaves its file; the next start finds the pid gone and takes over.
 * - `--dry-run` changes nothing and takes no lock; `--once` does (it creates and deletes VMs).
 * - The file is 0600 in the state dir (contract: every persistent file 0600), holding the pid only.
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { uptime } from 'node:os';
import { statePaths } from '../config/paths.js';


export class InstanceLockedError extends Error {
  constructor(readonly pid: number, readonly stateDir: string, readonly file: string) {
    super(
      `another tart-fleet daemon (pid ${pid}) is running on the state dir ${stateDir} (lock ${file}): ` +
        'stop it first (under launchd: `tart-fleet launchd --status` shows it), or give this one its own host.state_dir',
    );
    this.name = 'InstanceLockedError';
  }
}

export interface InstanceLock {
  file: string;
  release(): void;
}

export interface LockDeps {
  pid: number;
  /** Whether a process exists (default: `kill(pid, 0)`). */
  isAlive: (pid: number) => boolean;
  /** When this machine booted, epoch ms (default: now − os.uptime()). */
  bootedAt: () => number;
}

const defaults: LockDeps = {
  pid: process.pid,
  isAlive: (pid) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'EPERM';
    }
  },
  bootedAt: () => Date.now() - uptime() * 1000,
};

/** The pid of the live daemon holding the state dir's lock, or undefined (none, or a stale file). Reads only. */
export function lockHolder(stateDir: string, given: Partial<LockDeps> = {}): number | undefined {
  const deps = { ...defaults, ...given };
  const file = statePaths({ state_dir: stateDir }).lock;
  const pid = readPid(file);
  return pid !== undefined && deps.isAlive(pid) && !olderThanBoot(file, deps.bootedAt()) ? pid : undefined;
}

/** Takes the state dir's lock or throws InstanceLockedError naming the holder. */
export function acquireInstanceLock(stateDir: string, given: Partial<LockDeps> = {}): InstanceLock {
  const deps = { ...defaults, ...given };
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const file = statePaths({ state_dir: stateDir }).lock;
  for (let attempt = 0; attempt < 3; attempt++) {
    if (createExclusive(file, deps.pid)) return lockOf(file, deps.pid);
    const holder = readPid(file);
    if (holder === deps.pid) return lockOf(file, deps.pid);
    if (holder !== undefined && deps.isAlive(holder) && !olderThanBoot(file, deps.bootedAt())) {
      throw new InstanceLockedError(holder, stateDir, file);
    }
    // Stale (the daemon is gone, the file predates this boot, or it holds no pid): replace it, then
    // read back whose it is (another starter may have replaced it at the same moment).
    rmSync(file, { force: true });
  }
  const holder = readPid(file);
  throw new InstanceLockedError(holder ?? -1, stateDir, file);
}

function createExclusive(file: string, pid: number): boolean {
  let fd: number;
  try {
    fd = openSync(file, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    writeSync(fd, `${pid}\n`);
  } finally {
    closeSync(fd);
  }
  return true;
}

function readPid(file: string): number | undefined {
  try {
    const n = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

function olderThanBoot(file: string, bootedAt: number): boolean {
  try {
    return statSync(file).mtimeMs < bootedAt;
  } catch {
    return false;
  }
}

function lockOf(file: string, pid: number): InstanceLock {
  return {
    file,
    release: () => {
      if (readPid(file) === pid) rmSync(file, { force: true });
    },
  };
}
