/**
 * The simulated Mac's tart state: what lives under `TART_HOME` for the fake `tart` executable, plus
 * the world records (events) and fault injection that end-to-end tests use.
 *
 * Layout (mirrors real tart where it matters):
 * - `vms/<name>/config.json` — `version`, `os`, `arch`, `cpuCountMin`, `cpuCount`, `memorySizeMin`,
 *   `memorySize` (bytes), `macAddress`, `display`; `disk.img`, `nvram.bin` are tiny placeholder files.
 * - `vms/<name>/sim-image.json` — sim-only image facts (`diskGb`, `sizeGb` reported by list/get).
 * - A VM exists only when `config.json`, `disk.img` and `nvram.bin` are all there (VMDirectory.swift);
 *   a directory missing one of them answers `VM is missing some of its files (…)`, exit 1, and is
 *   not listed.
 * - `vms/<name>/sim-shares.json` — the `--dir` shares of the running VM (shares.ts), never cloned.
 * - `cache/OCIs/<ref>/` — images pulled from the simulated registry by `clone <remote ref>`.
 * - `.sim/registry.json` — the simulated OCI registry: `{ "<ref>": { "os"?, "cpu"?, "ramMb"?,
 *   "pullMs"? (scaled), "status"?: HTTP code (a registry error instead of the image), "details"? } }`;
 *   a ref not listed answers 404 `MANIFEST_UNKNOWN`.
 * - `vms/<name>/sim-run.json` — runtime state, never cloned: `ip` (kept across runs), `pid`,
 *   `startedAt`, `bootedAt` (epoch ms) while `tart run` lives. A VM is running iff that pid is alive.
 * - `tmp/` — clones are assembled here, then renamed into `vms/`.
 * - `.sim/tart.lock` — the global lock (proper-lockfile) every mutation takes, like tart's flock on
 *   TART_HOME.
 * - `.sim/events.jsonl` — one JSON line per event: `{t, event, vm, ...}` with `event` one of
 *   `clone` (`source`), `pull` (`source`: a remote ref), `set` (`cpu`, `ramMb`, `randomMac`),
 *   `run-start` (`pid`, `ip`, `cpu`, `ramMb`, `os`, `argv`: run's arguments, `shares`: the parsed
 *   `--dir` shares with `readOnly`), `run-exit` (`pid`, `reason`: `guest-shutdown` | `stopped` | `guest-error` |
 *   `startup-failed`), `stop` (`forced`: SIGKILL needed), `delete`, `fault` (`command`, `fault`).
 *   A `tart run` killed by SIGTERM/SIGKILL writes no `run-exit` (it dies at once, like real tart).
 * - `.sim/faults.json` — fault injection, read on every invocation. An object keyed by subcommand
 *   (`clone`, `set`, `run`, `ip`, `stop`, `delete`, `list`, `get`; for `clone`, `vm` is the new name), each value a fault or
 *   an array of faults (the first whose `vm` matches applies):
 *   `{ "error"?: "out-of-disk" | "vz-limit" | "vz-limit-raw" | "vm-missing" | "other",
 *      "stderr"?: string, "exitCode"?: number,   // custom failure instead of (or refining) `error`
 *      "times"?: number,                         // applies this many times (decremented under the lock); absent = forever
 *      "vm"?: string,                            // only for this VM name
 *      "delayMs"?: number,                       // sleep first (then fail or carry on)
 *      "hang"?: true,                            // never answer (to test timeouts)
 *      "never"?: true,                           // ip only: no lease ever (`no IP address found` after --wait)
 *      "crashAfterMs"?: number,                  // run only: the VM dies with an error after this (scaled) time
 *      "dieAfterMs"?: number,                    // run only: the VM starts, then after this many real ms
 *                                                //   `tart run` prints the fault's text and exits 1
 *      "stuckOnStop"?: true }                    // run only: SIGINT never completes, `tart stop` must SIGKILL
 *   e.g. `{"clone": {"error": "out-of-disk"}, "run": {"error": "vz-limit", "times": 1}, "ip": {"never": true}}`.
 *
 * ## Lifecycle
 * Every fake `tart` invocation builds a `SimStore` on `TART_HOME`, takes the lock for the short
 * critical sections that read-modify-write state, and releases it. `tart run` holds the lock only
 * while it registers itself (pid, IP) and while it unregisters; it never holds it while the VM lives.
 *
 * ## Gotchas
 * - Liveness is `kill(pid, 0)` plus a zombie check on Linux (`/proc/<pid>/stat` state Z): a
 *   `tart run` whose parent has not reaped it yet is dead for us.
 * - IPs are 127.A.B.C loopback addresses, unique among the VMs of one TART_HOME; A.B come from a
 *   hash of TART_HOME so that parallel test worlds rarely collide. Linux routes all of 127/8 to lo;
 *   macOS only has 127.0.0.1 unless aliases are added (`sudo ifconfig lo0 alias 127.A.B.C`).
 * - A stale lock (holder killed) is broken by proper-lockfile after `stale` ms.
 */
import { appendFileSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import lockfile from 'proper-lockfile';

export type SimOs = 'darwin' | 'linux';

export interface VmConfig {
  version: number;
  os: SimOs;
  arch: 'arm64';
  cpuCountMin: number;
  cpuCount: number;
  memorySizeMin: number;
  /** Bytes. */
  memorySize: number;
  macAddress: string;
  display: { width: number; height: number };
}

export interface SimImage {
  diskGb: number;
  sizeGb: number;
}

export interface RunState {
  ip?: string;
  pid?: number;
  startedAt?: number;
  /** When the simulated boot ends: IP and SSH answer from then on. */
  bootedAt?: number;
}

export type FaultKind = 'out-of-disk' | 'vz-limit' | 'vz-limit-raw' | 'vm-missing' | 'other';

export interface Fault {
  error?: FaultKind;
  stderr?: string;
  exitCode?: number;
  times?: number;
  vm?: string;
  delayMs?: number;
  hang?: boolean;
  never?: boolean;
  crashAfterMs?: number;
  dieAfterMs?: number;
  stuckOnStop?: boolean;
}

export interface SimEvent {
  event: 'clone' | 'pull' | 'set' | 'run-start' | 'run-exit' | 'stop' | 'delete' | 'fault';
  vm?: string;
  [k: string]: unknown;
}

const MB = 1024 * 1024;
/** Files that belong to one run of a VM, never copied by clone. */
const RUNTIME_FILES = new Set(['sim-run.json', 'control.sock', '.sim-exec.log', 'sim-shares.json']);
/** The files without which tart calls a VM directory incomplete (VMDirectory.swift). */
export const VM_FILES = ['config.json', 'disk.img', 'nvram.bin'] as const;
export const MISSING_FILES_TEXT = 'VM is missing some of its files (config.json, disk.img or nvram.bin)';

export class SimStore {
  readonly home: string;
  readonly vmsDir: string;
  readonly simDir: string;

  constructor(home: string) {
    this.home = resolve(home);
    this.vmsDir = join(this.home, 'vms');
    this.simDir = join(this.home, '.sim');
    mkdirSync(this.vmsDir, { recursive: true });
    mkdirSync(this.simDir, { recursive: true });
  }

  vmDir(name: string): string {
    return join(this.vmsDir, name);
  }

  exists(name: string): boolean {
    return VM_FILES.every((f) => existsSync(join(this.vmDir(name), f)));
  }

  /** The directory is there but a file tart needs is not (a delete in progress, say). */
  incomplete(name: string): boolean {
    return existsSync(this.vmDir(name)) && !this.exists(name);
  }

  names(): string[] {
    return readdirSync(this.vmsDir, { withFileTypes: true })
      .filter((d) => d.isDirectory() && this.exists(d.name))
      .map((d) => d.name)
      .sort();
  }

  readConfig(name: string): VmConfig {
    return JSON.parse(readFileSync(join(this.vmDir(name), 'config.json'), 'utf8')) as VmConfig;
  }

  writeConfig(name: string, cfg: VmConfig): void {
    writeAtomic(join(this.vmDir(name), 'config.json'), JSON.stringify(cfg));
  }

  readImage(name: string): SimImage {
    return readJsonOr<SimImage>(join(this.vmDir(name), 'sim-image.json'), { diskGb: 50, sizeGb: 25 });
  }

  writeImage(name: string, img: SimImage): void {
    writeAtomic(join(this.vmDir(name), 'sim-image.json'), JSON.stringify(img));
  }

  runState(name: string): RunState {
    return readJsonOr<RunState>(join(this.vmDir(name), 'sim-run.json'), {});
  }

  writeRunState(name: string, st: RunState): void {
    writeAtomic(join(this.vmDir(name), 'sim-run.json'), JSON.stringify(st));
  }

  /** The pid of the live `tart run` of this VM, if any. */
  runningPid(name: string): number | undefined {
    const pid = this.runState(name).pid;
    return pid !== undefined && isAlive(pid) ? pid : undefined;
  }

  isRunning(name: string): boolean {
    return this.runningPid(name) !== undefined;
  }

  /** Last access time, like tart's `Accessed` (we use the VM directory's mtime). */
  accessed(name: string): Date {
    return statSync(this.vmDir(name)).mtime;
  }

  async withLock<T>(fn: () => T | Promise<T>): Promise<T> {
    const release = await lockfile.lock(this.home, {
      realpath: false,
      lockfilePath: join(this.simDir, 'tart.lock'),
      stale: 10_000,
      retries: { retries: 400, factor: 1.2, minTimeout: 5, maxTimeout: 100 },
    });
    try {
      return await fn();
    } finally {
      await release();
    }
  }

  event(e: SimEvent): void {
    // One short line per append: O_APPEND writes below PIPE_BUF do not interleave.
    appendFileSync(join(this.simDir, 'events.jsonl'), `${JSON.stringify({ t: Date.now(), ...e })}\n`);
  }

  /** Takes (and counts down) the fault for this subcommand and VM, if one is configured. */
  async takeFault(command: string, vm: string | undefined): Promise<Fault | undefined> {
    const file = join(this.simDir, 'faults.json');
    if (!existsSync(file)) return undefined;
    return this.withLock(() => {
      let all: Record<string, Fault | Fault[]>;
      try {
        all = JSON.parse(readFileSync(file, 'utf8')) as Record<string, Fault | Fault[]>;
      } catch {
        return undefined; // a half-written or removed file: no fault this time
      }
      const entry = all[command];
      if (entry === undefined) return undefined;
      const list = Array.isArray(entry) ? entry : [entry];
      const idx = list.findIndex((f) => f.vm === undefined || f.vm === vm);
      const fault = list[idx];
      if (fault === undefined) return undefined;
      const taken = { ...fault };
      if (fault.times !== undefined) {
        fault.times -= 1;
        if (fault.times <= 0) list.splice(idx, 1);
        if (list.length === 0) delete all[command];
        else all[command] = Array.isArray(entry) ? list : (list[0] as Fault);
        writeAtomic(file, JSON.stringify(all, null, 2));
      }
      this.event({ event: 'fault', vm, command, fault: taken });
      return taken;
    });
  }

  /** A 127.A.B.C address no other VM of this TART_HOME holds (call under the lock). */
  allocateIp(name: string): string {
    const taken = new Set<string>();
    for (const other of this.names()) {
      if (other === name) continue;
      const ip = this.runState(other).ip;
      if (ip) taken.add(ip);
    }
    const mine = this.runState(name).ip;
    if (mine && !taken.has(mine)) return mine;
    const h = createHash('sha256').update(this.home).digest();
    const a = 16 + ((h[0] ?? 0) % 200);
    for (let i = 0; i < 256 * 253; i++) {
      const b = ((h[1] ?? 0) + Math.floor(i / 253)) % 256;
      const ip = `127.${a}.${b}.${2 + (i % 253)}`;
      if (!taken.has(ip)) return ip;
    }
    throw new Error('no free simulated IP address');
  }

  /** Copies `source` to `name` (replacing it, as tart does), minus runtime files. Call under the lock. */
  cloneVm(source: string, name: string, srcDir = this.vmDir(source)): void {
    const tmp = join(this.home, 'tmp', `clone-${process.pid}-${randomBytes(4).toString('hex')}`);
    mkdirSync(join(this.home, 'tmp'), { recursive: true });
    const src = srcDir;
    cpSync(src, tmp, { recursive: true, filter: (from) => from === src || !RUNTIME_FILES.has(from.slice(src.length + 1)) });
    // tart gives the clone a new MAC only if another local VM already has the source's MAC.
    const cfg = JSON.parse(readFileSync(join(tmp, 'config.json'), 'utf8')) as VmConfig;
    const clash = this.names().some((n) => n !== name && this.readConfig(n).macAddress === cfg.macAddress);
    if (clash) {
      cfg.macAddress = randomMac();
      writeFileSync(join(tmp, 'config.json'), JSON.stringify(cfg));
    }
    rmSync(this.vmDir(name), { recursive: true, force: true });
    renameSync(tmp, this.vmDir(name));
  }

  deleteVm(name: string): void {
    rmSync(this.vmDir(name), { recursive: true, force: true });
  }
}

/** Creates a golden image (a stopped local VM) directly in TART_HOME; returns its directory. */
export function createGoldenImage(
  tartHome: string,
  name: string,
  opts: { cpu: number; ramMb: number; os: SimOs; diskGb?: number; cpuCountMin?: number; memoryMinMb?: number },
): string {
  // macOS images carry Apple's minimums for their IPSW: 2 CPUs and 4 GiB on every current macOS
  // (real configs say "memorySizeMin" : 4294967296; audit tart.md #3). tart does not enforce them for
  // Linux guests; their config records VZ's floors.
  const store = new SimStore(tartHome);
  const dir = store.vmDir(name);
  mkdirSync(dir, { recursive: true });
  const cfg: VmConfig = {
    version: 1,
    os: opts.os,
    arch: 'arm64',
    cpuCountMin: opts.cpuCountMin ?? (opts.os === 'darwin' ? 2 : 1),
    cpuCount: opts.cpu,
    memorySizeMin: (opts.memoryMinMb ?? (opts.os === 'darwin' ? 4096 : 512)) * MB,
    memorySize: opts.ramMb * MB,
    macAddress: randomMac(),
    display: { width: 1024, height: 768 },
  };
  store.writeConfig(name, cfg);
  writeFileSync(join(dir, 'disk.img'), 'simulated disk\n');
  writeFileSync(join(dir, 'nvram.bin'), 'simulated nvram\n');
  const diskGb = opts.diskGb ?? 50;
  writeFileSync(join(dir, 'sim-image.json'), JSON.stringify({ diskGb, sizeGb: Math.floor(diskGb / 2) } satisfies SimImage));
  return dir;
}

/** A random locally administered unicast MAC, like VZMACAddress.randomLocallyAdministered(). */
export function randomMac(): string {
  const b = randomBytes(6);
  b[0] = ((b[0] ?? 0) & 0xfc) | 0x02;
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

const HAS_PROC = existsSync('/proc/self/stat');

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (!HAS_PROC) return true; // macOS: kill(0) is all we have
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false; // exited between the two checks
  }
}

function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

/** The JSON in `file`, or `fallback` when it is missing or unreadable (a VM without that sim record). */
function readJsonOr<T>(file: string, fallback: T): T {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return fallback;
  }
}
