/**
 * A fake `tart` executable for tests and the demo (compiled to dist/sim/tart/fake-tart.js, wrapped by
 * a shell script from install.ts). It reproduces real tart's argv, stdout, stderr and exit codes from
 * the facts sheet (§1, §2, Appendix A) on a simulated TART_HOME (see store.ts for the layout, the
 * events file and the faults file).
 *
 * Subcommands: `--version` (there is no `version` subcommand in real tart, Root.swift),
 * `list [--format text|json] [--source local|oci] [-q]`, `get <name> [--format]`,
 * `clone <src> <new>` (a remote OCI ref is pulled first from the simulated registry, registry.ts),
 * `set <name> [--cpu N] [--memory MB] [--disk-size GB] [--random-mac]` (macOS minimums enforced with
 * tart's LessThanMinimalResourcesError texts; the disk only grows), `run <name> [flags]` (blocks for
 * the VM's life, see vm-process.ts; `--dir` shares, see shares.ts), `ip <name> [--wait N]`,
 * `stop <name> [--timeout N]`, `delete <name>...`, `exec [-i] [-t] <name> <command...>` (through
 * the VM's control socket, once its guest agent is up), and a sim-only
 * `create <name> [--linux] [--cpu N] [--memory MB] [--disk-size GB]` that makes a golden image.
 *
 * Environment switches:
 * - `TART_HOME` (required: the fake never falls back to ~/.tart, so it cannot touch real VMs)
 * - `TART_SIM_MAX_RUNNING` (default 2): running macOS VMs allowed (the VZ limit)
 * - `TART_SIM_BOOT_MS` (default 300): boot time before IP and SSH answer
 * - `TART_SIM_SPEED` (default 1): divides boot time, `ip --wait` polling and waiting, stub lifetimes
 * - `TART_SIM_SSH_PORT` (default 2222): passed to the guest
 * - `TART_SIM_GUEST=none`: a stub guest instead of src/sim/guest; `TART_SIM_STUB_POWEROFF_MS` makes
 *   the stub power off by itself after that (scaled) time
 * - `TART_SIM_VERSION` (default 2.32.1; `SNAPSHOT` is what a source build prints)
 * - `TART_SIM_SOFTNET`: `setuid` (softnet installed, setuid root: Softnet runs work), `no-suid`
 *   (installed but tart cannot get root for it: the VM dies half a second in), unset/`missing`
 *   (not in PATH: every Softnet run fails at once). Real tart only offers to fix the SUID bit when
 *   its stdout is a TTY, never under a daemon (audit tart.md #1).
 * - `TART_SIM_GUEST_AGENT=none`: the guest has no Tart Guest Agent, so `tart exec` cannot connect.
 * - The session context of the process that runs tart (what a LaunchDaemon lacks on macOS 15+,
 *   audits/turn4-macos-daemon.md): `TART_SIM_KEYCHAIN=locked` (no unlocked login keychain: `run` of
 *   a macOS guest fails with VZErrorDomain Code=1, vm-process.ts KEYCHAIN_LOCKED_TEXT) and
 *   `TART_SIM_LOCAL_NETWORK=blocked` (Local Network privacy: the guest's SSH port refuses the host,
 *   while `tart exec` still works through the control socket; see ../guest/guest.ts).
 *
 * ## Lifecycle
 * One process per invocation. It takes the fault for its subcommand (if any), then does its work,
 * taking the TART_HOME lock only around read-modify-write sections, and exits with tart's code.
 *
 * ## Gotchas
 * - JSON output imitates Swift's JSONEncoder(.prettyPrinted): `"key" : value`, `\/` escaping,
 *   `[\n\n]` for an empty array and a key order that changes from process to process, so consumers
 *   that depend on key order or on whitespace fail in tests, as they would against real tart.
 * - Usage errors (exit 64) print `Error: …` plus a usage line, like swift-argument-parser. A repeated
 *   single-value option takes its last value (swift-argument-parser has no "more than once" error).
 * - `stop --timeout` is in real seconds (not scaled): it bounds a real process's exit.
 */
import { randomBytes } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { connect } from 'node:net';
import { join } from 'node:path';
import { createGoldenImage, MISSING_FILES_TEXT, randomMac, SimStore, type Fault } from './store.js';
import { runVm, runningVms, simSettings, vzLimitText } from './vm-process.js';
import { isRemoteRef, pull } from './registry.js';
import { parseDirs } from './shares.js';

const VERSION_DEFAULT = '2.32.1';

class Exit {
  constructor(readonly code: number) {}
}

const out = (s: string) => process.stdout.write(`${s}\n`);
const err = (s: string) => process.stderr.write(`${s}\n`);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function usage(cmd: string, msg: string): never {
  err(`Error: ${msg}`);
  err(`Usage: tart ${cmd} ${USAGES[cmd] ?? ''}`.trimEnd());
  err(`  See 'tart ${cmd} --help' for more information.`);
  throw new Exit(64);
}

const USAGES: Record<string, string> = {
  list: '[--source <source>] [--format <format>] [--quiet]',
  get: '<name> [--format <format>]',
  clone: '<source-name> <new-name> [--insecure] [--concurrency <concurrency>] [--prune-limit <n>]',
  set: '<name> [--cpu <cpu>] [--memory <memory>] [--disk-size <disk-size>] [--random-mac]',
  run: '<name> [--no-graphics] [--no-audio] [--no-clipboard] [--dir <dir> ...] [--net-softnet] ...',
  ip: '<name> [--wait <wait>] [--resolver <resolver>]',
  stop: '<name> [--timeout <timeout>]',
  delete: '<name> ...',
  exec: '[-i] [-t] <name> <command> ...',
  create: '<name> [--linux] [--disk-size <disk-size>]',
};

interface Spec {
  flags: string[];
  values: string[];
  /** Options that may be repeated (their values accumulate). */
  repeat?: string[];
  aliases?: Record<string, string>;
  positionals: string[];
  /** The last positional takes all remaining arguments. */
  variadic?: boolean;
}

interface Parsed {
  pos: string[];
  flags: Set<string>;
  values: Map<string, string[]>;
}

function parse(cmd: string, argv: string[], spec: Spec): Parsed {
  const pos: string[] = [];
  const flags = new Set<string>();
  const values = new Map<string, string[]>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a.startsWith('-') && a !== '-') {
      const [rawKey, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
      const key = spec.aliases?.[rawKey] ?? rawKey;
      if (spec.flags.includes(key) && inline === undefined) {
        flags.add(key);
      } else if (spec.values.includes(key)) {
        const v = inline ?? argv[++i];
        if (v === undefined) usage(cmd, `Missing value for '${key} <${key.replace(/^--/, '')}>'`);
        // A repeated single-value option takes the last value, as in swift-argument-parser.
        values.set(key, spec.repeat?.includes(key) ? [...(values.get(key) ?? []), v] : [v]);
      } else {
        usage(cmd, `Unknown option '${a}'`);
      }
    } else {
      pos.push(a);
    }
  }
  if (pos.length < spec.positionals.length) usage(cmd, `Missing expected argument '<${spec.positionals[pos.length]}>'`);
  if (pos.length > spec.positionals.length && !spec.variadic) usage(cmd, `Unexpected argument '${pos[spec.positionals.length]}'`);
  return { pos, flags, values };
}

const one = (p: Parsed, key: string): string | undefined => p.values.get(key)?.at(-1);

function intOpt(cmd: string, p: Parsed, key: string): number | undefined {
  const v = one(p, key);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) usage(cmd, `The value '${v}' is invalid for '${key} <${key.replace(/^--/, '')}>'`);
  return Number(v);
}

// --- Swift-like JSON -------------------------------------------------------------------------

/** A per-process key order, like a Swift Dictionary's per-process hash seed. */
const SEED = randomBytes(4).readUInt32LE(0);
function keyRank(k: string): number {
  let h = SEED;
  for (const c of k) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
  return h;
}

export function swiftJson(v: unknown, indent = ''): string {
  const inner = `${indent}  `;
  if (Array.isArray(v)) {
    if (v.length === 0) return '[\n\n]';
    return `[\n${v.map((x) => inner + swiftJson(x, inner)).join(',\n')}\n${indent}]`;
  }
  if (v !== null && typeof v === 'object') {
    const keys = Object.keys(v).sort((a, b) => keyRank(a) - keyRank(b));
    if (keys.length === 0) return '{\n\n}';
    const rec = v as Record<string, unknown>;
    return `{\n${keys.map((k) => `${inner}${swiftJson(k)} : ${swiftJson(rec[k], inner)}`).join(',\n')}\n${indent}}`;
  }
  if (typeof v === 'string') return JSON.stringify(v).replace(/\//g, '\\/');
  return JSON.stringify(v);
}

/** TextTable Style.plain: left-aligned, padded to the widest cell, whole output trimmed. */
function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows
    .map((r) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' '))
    .join('\n')
    .trim();
}

function relative(d: Date): string {
  const s = Math.max(0, Math.round((Date.now() - d.getTime()) / 1000));
  if (s < 60) return `${s} second${s === 1 ? '' : 's'} ago`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} minute${m === 1 ? '' : 's'} ago`;
  const h = Math.round(m / 60);
  return `${h} hour${h === 1 ? '' : 's'} ago`;
}

const isoSeconds = (d: Date) => `${d.toISOString().slice(0, 19)}Z`;

// --- commands --------------------------------------------------------------------------------

function vmMissing(name: string): never {
  err(`the specified VM "${name}" does not exist`);
  throw new Exit(2);
}

/** Throws tart's error unless `name` is a complete local VM (VMDirectory.validate()). */
function requireVm(store: SimStore, name: string): void {
  if (store.exists(name)) return;
  if (store.incomplete(name)) {
    err(MISSING_FILES_TEXT);
    throw new Exit(1);
  }
  vmMissing(name);
}

function stateOf(store: SimStore, name: string): 'running' | 'stopped' {
  return store.isRunning(name) ? 'running' : 'stopped';
}

function cmdList(store: SimStore, argv: string[]): number {
  const p = parse('list', argv, { flags: ['--quiet'], values: ['--format', '--source'], aliases: { '-q': '--quiet' }, positionals: [] });
  const source = one(p, '--source');
  if (source !== undefined && source !== 'local' && source !== 'oci') usage('list', `'${source}' is not a valid <source>`);
  const format = one(p, '--format') ?? 'text';
  if (format !== 'text' && format !== 'json') usage('list', `'${format}' is not a valid <format>`);
  // No OCI cache is simulated: `--source oci` lists nothing.
  const names = source === 'oci' ? [] : store.names();
  if (p.flags.has('--quiet')) {
    for (const n of names) out(n);
    return 0;
  }
  const entries = names.map((n) => {
    const img = store.readImage(n);
    const state = stateOf(store, n);
    return { Source: 'local', Name: n, Disk: img.diskGb, Size: img.sizeGb, Accessed: store.accessed(n), Running: state === 'running', State: state };
  });
  if (format === 'json') {
    out(swiftJson(entries.map((e) => ({ ...e, Accessed: isoSeconds(e.Accessed) }))));
  } else if (entries.length === 0) {
    out('');
  } else {
    const head = ['Source', 'Name', 'Disk', 'Size', 'Accessed', 'State'];
    out(table([head, ...entries.map((e) => [e.Source, e.Name, String(e.Disk), String(e.Size), relative(e.Accessed), e.State])]));
  }
  return 0;
}

function cmdGet(store: SimStore, argv: string[]): number {
  const p = parse('get', argv, { flags: [], values: ['--format'], positionals: ['name'] });
  const name = p.pos[0] as string;
  const format = one(p, '--format') ?? 'text';
  if (format !== 'text' && format !== 'json') usage('get', `'${format}' is not a valid <format>`);
  requireVm(store, name);
  const cfg = store.readConfig(name);
  const img = store.readImage(name);
  const state = stateOf(store, name);
  const info = {
    OS: cfg.os,
    CPU: cfg.cpuCount,
    Memory: Math.round(cfg.memorySize / (1024 * 1024)),
    Disk: img.diskGb,
    DiskFormat: 'raw',
    Size: img.sizeGb.toFixed(3),
    Display: `${cfg.display.width}x${cfg.display.height}`,
    Running: state === 'running',
    State: state,
  };
  if (format === 'json') {
    out(swiftJson(info));
  } else {
    const keys = Object.keys(info).filter((k) => k !== 'Running') as (keyof typeof info)[];
    out(table([keys, keys.map((k) => String(info[k]))]));
  }
  return 0;
}

async function cmdClone(store: SimStore, argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const p = parse('clone', argv, {
    flags: ['--insecure', '--deduplicate'],
    values: ['--concurrency', '--prune-limit'],
    positionals: ['source-name', 'new-name'],
  });
  const [source, name] = p.pos as [string, string];
  if (name.includes('/')) usage('clone', '<new-name> should be a local name');
  const concurrency = intOpt('clone', p, '--concurrency');
  if (concurrency !== undefined && concurrency < 1) usage('clone', 'network concurrency cannot be less than 1');
  let srcDir: string | undefined;
  if (isRemoteRef(source)) {
    // Real tart pulls without the TART_HOME lock, then copies under it (Clone.swift).
    const pulled = await pull(store, source, simSettings(env).speed);
    if ('text' in pulled) {
      err(pulled.text);
      return pulled.code;
    }
    srcDir = pulled.dir;
    store.event({ event: 'pull', vm: name, source });
  }
  await store.withLock(() => {
    if (srcDir === undefined) requireVm(store, source);
    store.cloneVm(source, name, srcDir);
  });
  store.event({ event: 'clone', vm: name, source });
  return 0;
}

async function cmdSet(store: SimStore, argv: string[]): Promise<number> {
  const p = parse('set', argv, {
    flags: ['--random-mac', '--random-serial', '--display-refit', '--no-display-refit'],
    values: ['--cpu', '--memory', '--display', '--disk', '--disk-size'],
    positionals: ['name'],
  });
  const name = p.pos[0] as string;
  const cpu = intOpt('set', p, '--cpu');
  const ramMb = intOpt('set', p, '--memory');
  const diskGb = intOpt('set', p, '--disk-size');
  if (diskGb !== undefined && diskGb > 65_535) usage('set', `The value '${diskGb}' is invalid for '--disk-size <disk-size>'`); // UInt16
  const result = await store.withLock(() => {
    requireVm(store, name);
    const cfg = store.readConfig(name);
    // VMConfig.swift: the minimums bind macOS guests only; the texts are tart's, memory in bytes.
    if (cpu !== undefined) {
      if (cfg.os === 'darwin' && cpu < cfg.cpuCountMin) {
        err(`Error: LessThanMinimalResourcesError: VM should have ${cfg.cpuCountMin} CPU cores at minimum (requested ${cpu})`);
        throw new Exit(1);
      }
      cfg.cpuCount = cpu;
    }
    if (ramMb !== undefined) {
      const bytes = ramMb * 1024 * 1024;
      if (cfg.os === 'darwin' && bytes < cfg.memorySizeMin) {
        err(`Error: LessThanMinimalResourcesError: VM should have ${cfg.memorySizeMin} bytes of memory at minimum (requested ${bytes})`);
        throw new Exit(1);
      }
      cfg.memorySize = bytes;
    }
    if (p.flags.has('--random-mac')) cfg.macAddress = randomMac();
    store.writeConfig(name, cfg);
    if (diskGb !== undefined) {
      // A raw disk only grows, in 10^9-byte GB (VMDirectory.swift); a RuntimeError: no prefix, exit 1.
      const img = store.readImage(name);
      if (diskGb < img.diskGb) {
        err(`new disk size of ${diskGb} GB should be larger than the current disk size of ${img.diskGb} GB`);
        throw new Exit(1);
      }
      store.writeImage(name, { ...img, diskGb });
    }
    return { cpu: cfg.cpuCount, ramMb: Math.round(cfg.memorySize / (1024 * 1024)) };
  });
  store.event({ event: 'set', vm: name, ...result, randomMac: p.flags.has('--random-mac') });
  return 0;
}

async function cmdRun(store: SimStore, argv: string[], env: NodeJS.ProcessEnv, fault: Fault | undefined): Promise<number> {
  const p = parse('run', argv, {
    flags: [
      '--no-graphics', '--no-audio', '--no-clipboard', '--recovery', '--vnc', '--vnc-experimental', '--nested',
      '--net-softnet', '--net-host', '--suspendable', '--capture-system-keys', '--no-trackpad', '--no-pointer',
      '--no-keyboard', '--graphics', '--serial',
    ],
    values: ['--dir', '--disk', '--net-bridged', '--net-softnet-allow', '--net-softnet-block', '--net-softnet-expose', '--root-disk-opts', '--rosetta', '--serial-path'],
    repeat: ['--dir', '--disk', '--net-bridged'],
    positionals: ['name'],
  });
  const softnet = p.flags.has('--net-softnet') || ['--net-softnet-allow', '--net-softnet-block', '--net-softnet-expose'].some((k) => p.values.has(k));
  const modes = [p.values.has('--net-bridged'), softnet, p.flags.has('--net-host')].filter(Boolean).length;
  if (modes > 1) usage('run', '--net-bridged, --net-softnet and --net-host are mutually exclusive');
  if (p.flags.has('--vnc') && p.flags.has('--vnc-experimental')) usage('run', '--vnc and --vnc-experimental are mutually exclusive');
  if (p.flags.has('--graphics') && p.flags.has('--no-graphics')) usage('run', '--graphics and --no-graphics are mutually exclusive');
  const dirs = p.values.get('--dir') ?? [];
  if (dirs.length > 1 && dirs.some((d) => !/^[^/:][^:]*:/.test(d))) {
    usage('run', 'invalid --dir syntax: for multiple directory shares each one of them should be named');
  }
  const die = fault?.dieAfterMs !== undefined ? { afterMs: fault.dieAfterMs, text: fault.stderr ?? faultText(store, 'run', p.pos[0], fault)[0] } : undefined;
  return runVm(store, p.pos[0] as string, env, {
    argv,
    shares: parseDirs(dirs),
    softnet,
    ...(one(p, '--root-disk-opts') !== undefined ? { rootDiskOpts: one(p, '--root-disk-opts') as string } : {}),
    ...(fault?.crashAfterMs !== undefined ? { crashAfterMs: fault.crashAfterMs } : {}),
    ...(die ? { die } : {}),
    ...(fault?.stuckOnStop ? { stuckOnStop: true } : {}),
  });
}

async function cmdIp(store: SimStore, argv: string[], env: NodeJS.ProcessEnv, fault: Fault | undefined): Promise<number> {
  const p = parse('ip', argv, { flags: [], values: ['--wait', '--resolver'], positionals: ['name'] });
  const name = p.pos[0] as string;
  const wait = intOpt('ip', p, '--wait') ?? 0;
  const resolver = one(p, '--resolver') ?? 'dhcp';
  if (!['dhcp', 'arp', 'agent'].includes(resolver)) usage('ip', `'${resolver}' is not a valid <resolver>`);
  requireVm(store, name);
  const { speed } = simSettings(env);
  const deadline = Date.now() + (wait * 1000) / speed;
  for (;;) {
    const st = store.runState(name);
    if (!fault?.never && st.ip && st.pid !== undefined && store.isRunning(name) && Date.now() >= (st.bootedAt ?? 0)) {
      out(st.ip);
      return 0;
    }
    if (Date.now() >= deadline) break;
    await sleep(1000 / speed);
  }
  err(store.exists(name) && store.isRunning(name) ? 'no IP address found' : 'no IP address found, is your VM running?');
  return 1;
}

async function cmdStop(store: SimStore, argv: string[]): Promise<number> {
  const p = parse('stop', argv, { flags: [], values: ['--timeout'], aliases: { '-t': '--timeout' }, positionals: ['name'] });
  const name = p.pos[0] as string;
  const timeoutS = intOpt('stop', p, '--timeout') ?? 30;
  requireVm(store, name);
  const pid = store.runningPid(name);
  if (pid === undefined) {
    err(`VM "${name}" is not running`);
    return 2;
  }
  process.kill(pid, 'SIGINT');
  const gone = async (ms: number) => {
    const until = Date.now() + ms;
    while (store.isRunning(name) && Date.now() < until) await sleep(100);
    return !store.isRunning(name);
  };
  let forced = false;
  if (!(await gone(timeoutS * 1000))) {
    forced = true;
    try {
      process.kill(pid, 'SIGKILL');
    } catch (e) {
      err(`failed to forcefully terminate the VM "${name}": ${(e as Error).message}`);
      return 1;
    }
    // Real tart returns right after kill(SIGKILL) (Stop.swift:67-73): a `delete` straight after can
    // still find the VM running for a moment. The dead run's pid stays in sim-run.json; liveness
    // checks ignore it once the process is gone.
  }
  store.event({ event: 'stop', vm: name, pid, forced });
  return 0;
}

async function cmdDelete(store: SimStore, argv: string[]): Promise<number> {
  const p = parse('delete', argv, { flags: [], values: [], positionals: ['name'], variadic: true });
  for (const name of p.pos) {
    const code = await store.withLock(() => {
      requireVm(store, name);
      if (store.isRunning(name)) {
        err(`VM "${name}" is running`);
        return 1;
      }
      store.deleteVm(name);
      return 0;
    });
    if (code !== 0) return code;
    store.event({ event: 'delete', vm: name });
  }
  return 0;
}

function cmdCreate(store: SimStore, argv: string[]): number {
  const p = parse('create', argv, { flags: ['--linux'], values: ['--from-ipsw', '--disk-size', '--cpu', '--memory', '--disk-format'], positionals: ['name'] });
  const name = p.pos[0] as string;
  const os = p.flags.has('--linux') ? 'linux' : 'darwin';
  createGoldenImage(store.home, name, {
    os,
    cpu: intOpt('create', p, '--cpu') ?? 4,
    ramMb: intOpt('create', p, '--memory') ?? (os === 'darwin' ? 8192 : 4096),
    diskGb: intOpt('create', p, '--disk-size') ?? 50,
  });
  return 0;
}

/** The text and exit code of a fault's `error` kind, as real tart prints them. */
function faultText(store: SimStore, cmd: string, vm: string | undefined, fault: Fault): [string, number] {
  let text: string;
  let code: number;
  switch (fault.error) {
    case 'out-of-disk':
      // ArgumentParser prints an NSError's localizedDescription (audit tart.md #6); `run` dies on
      // the task path, which prints the debug form.
      [text, code] =
        cmd === 'run'
          ? ['Error Domain=VZErrorDomain Code=8 "The virtual machine ran out of disk space." UserInfo={NSLocalizedFailure=The virtual machine stopped unexpectedly.}', 1]
          : ['Error: “disk.img” couldn’t be copied to “tmp” because there isn’t enough space.', 1];
      break;
    case 'vz-limit':
      [text, code] = [vzLimitText(runningVms(store, vm)), 1];
      break;
    case 'vz-limit-raw':
      [text, code] = ['Error Domain=VZErrorDomain Code=6 "The maximum supported number of active virtual machines has been reached."', 1];
      break;
    case 'vm-missing':
      [text, code] = cmd === 'run' ? [`Error: the specified VM "${vm}" does not exist`, 1] : [`the specified VM "${vm}" does not exist`, 2];
      break;
    default:
      [text, code] = ['Error: simulated failure (faults.json)', 1];
  }
  return [text, code];
}

/** Prints the failure a fault asks for; returns its exit code. */
function failWith(store: SimStore, cmd: string, vm: string | undefined, fault: Fault): number {
  const [text, code] = faultText(store, cmd, vm, fault);
  err(fault.stderr ?? text);
  return fault.exitCode ?? code;
}

/**
 * `tart exec [-i] [-t] <name> <command...>`: runs the command in the guest through the VM's control
 * socket (vm-process.ts) and exits with the guest command's exit code. With `-i` our stdin goes to
 * the guest command.
 */
async function cmdExec(store: SimStore, argv: string[]): Promise<number> {
  const flags = new Set<string>();
  let i = 0;
  for (; i < argv.length && (argv[i] as string).startsWith('-'); i++) {
    const f = argv[i] as string;
    if (f !== '-i' && f !== '-t' && f !== '--interactive' && f !== '--tty') usage('exec', `Unknown option '${f}'`);
    flags.add(f === '--interactive' ? '-i' : f === '--tty' ? '-t' : f);
  }
  const [name, ...command] = argv.slice(i);
  if (name === undefined) usage('exec', "Missing expected argument '<name>'");
  if (command.length === 0) usage('exec', "Missing expected argument '<command> ...'");
  requireVm(store, name);
  if (!store.isRunning(name)) {
    err(`VM "${name}" is not running`);
    return 2;
  }
  const stdin = flags.has('-i') ? await readStdin() : '';
  const agentDown = (why: string): number => {
    err(`Error: Failed to connect to the VM using its control socket: ${why}, is the Tart Guest Agent running?`);
    return 1;
  };
  let reply: { stdout?: string; stderr?: string; code?: number; agent?: boolean };
  try {
    reply = await new Promise((resolve, reject) => {
      const sock = connect(join(store.vmDir(name), 'control.sock'));
      let buf = '';
      sock.setEncoding('utf8');
      sock.on('connect', () => sock.write(`${JSON.stringify({ argv: command, stdin })}\n`));
      sock.on('data', (d: string) => (buf += d));
      sock.on('end', () => {
        try {
          resolve(JSON.parse(buf) as typeof reply);
        } catch (e) {
          reject(e as Error);
        }
      });
      sock.on('error', reject);
    });
  } catch (e) {
    return agentDown((e as NodeJS.ErrnoException).code ?? (e as Error).message);
  }
  if (reply.agent === false) return agentDown('Connection refused');
  process.stdout.write(reply.stdout ?? '');
  process.stderr.write(reply.stderr ?? '');
  return reply.code ?? 1;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const COMMANDS = new Set(['list', 'get', 'clone', 'set', 'run', 'ip', 'stop', 'delete', 'exec', 'create']);

export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === '--version') {
    out(env.TART_SIM_VERSION || VERSION_DEFAULT);
    return 0;
  }
  if (cmd === undefined || cmd === '--help' || cmd === '-h') {
    out(`OVERVIEW: simulated tart ${env.TART_SIM_VERSION || VERSION_DEFAULT}\n\nUSAGE: tart <subcommand>\n\nSUBCOMMANDS: ${[...COMMANDS].join(', ')}`);
    return cmd === undefined ? 64 : 0;
  }
  if (!COMMANDS.has(cmd)) {
    err(`Error: Unknown option '${cmd}'`);
    err(`Usage: tart <subcommand>\n  See 'tart --help' for more information.`);
    return 64;
  }
  if (!env.TART_HOME) {
    err('Error: the simulated tart needs TART_HOME (it never uses ~/.tart)');
    return 1;
  }
  const store = new SimStore(env.TART_HOME);
  try {
    // For clone the fault's `vm` is the new name (the VM being made); otherwise the first positional.
    const positional = rest.filter((a) => !a.startsWith('-'));
    // (exec's flags come first too, so its first positional is the VM as well.)
    const vm = cmd === 'clone' ? positional[1] : positional[0];
    const fault = await store.takeFault(cmd, vm);
    if (fault?.delayMs) await sleep(fault.delayMs);
    if (fault?.hang) {
      setInterval(() => undefined, 1 << 30); // keep the process alive until killed
      await new Promise(() => undefined);
    }
    const diesLater = cmd === 'run' && fault?.dieAfterMs !== undefined;
    if (fault && !diesLater && (fault.error !== undefined || fault.stderr !== undefined || fault.exitCode !== undefined)) {
      return failWith(store, cmd, vm, fault);
    }
    switch (cmd) {
      case 'list':
        return cmdList(store, rest);
      case 'get':
        return cmdGet(store, rest);
      case 'clone':
        return await cmdClone(store, rest, env);
      case 'set':
        return await cmdSet(store, rest);
      case 'run':
        return await cmdRun(store, rest, env, fault);
      case 'ip':
        return await cmdIp(store, rest, env, fault);
      case 'stop':
        return await cmdStop(store, rest);
      case 'delete':
        return await cmdDelete(store, rest);
      case 'exec':
        return await cmdExec(store, rest);
      default:
        return cmdCreate(store, rest);
    }
  } catch (e) {
    if (e instanceof Exit) return e.code;
    err(`Error: ${(e as Error).message}`);
    return 1;
  }
}

// Entry point (only when executed, not when imported by tests).
if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  main(process.argv.slice(2), process.env).then(
    (code) => {
      // `run` may leave guest handles open; everything else ends on its own.
      if (process.argv[2] === 'run') process.stdout.write('', () => process.exit(code));
      else process.exitCode = code;
    },
    (e: unknown) => {
      err(`Error: ${(e as Error).message}`);
      process.exit(1);
    },
  );
}
