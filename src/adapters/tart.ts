/**
 * The `Tart` port over the `tart` CLI, run through zx (`zx/core`: only `$`; the full `zx` entry also
 * loads globbing, fetch and yaml helpers we never use, ~6 MB more RSS in the daemon). Every argument
 * is passed as its own argv element (zx `${array}` interpolation quotes each one), every command has
 * a timeout, and every failure becomes a classified `TartError` (see tart-errors.ts).
 *
 * ## Lifecycle
 * One instance per daemon. Short commands (`list`, `get`, `clone`, `set`, `ip`, `stop`, `delete`,
 * `--version`) run to completion. `run` starts `tart run` detached (own session and process group,
 * stdin ignored, stdout+stderr appended to the VM's run log), watches it for `runStartupMs` to catch
 * an immediate startup failure, then lets it go: the VM outlives this process and a daemon restart.
 * The run log starts with a header line that `startedAt` reads back, so a restarted daemon still
 * knows how old a VM is.
 *
 * ## Gotchas
 * - zx runs commands through bash with the prefix `set -euo pipefail;`. We replace that prefix with
 *   `exec ` so that bash replaces itself with tart: the pid zx reports IS tart's pid (macOS ships bash
 *   3.2, which would otherwise keep bash as the parent). A timeout then SIGKILLs exactly the tart
 *   process (e.g. a hung `tart ip --wait`), without relying on `ps` to find grandchildren.
 * - A missing binary therefore shows up as bash's exit 127 (`exec: tart: not found`) → `tart-missing`.
 * - stdin is always /dev/null. Node's stdio "pipes" are socketpairs, and `bash -c` with a socket on
 *   stdin (and SHLVL < 2, as under launchd) believes sshd started it and runs ~/.bashrc first
 *   (bash's shell.c, the rshd/sshd case; also Apple's bash 3.2). A pyenv/nvm/conda .bashrc then
 *   costs seconds per tart command, and anything it prints lands in front of tart's JSON.
 * - `tart run` has no SIGTERM handler (facts §1.2): this adapter never signals it. Stopping is
 *   `tart stop` (SIGINT, then SIGKILL after its timeout).
 * - `tart run`'s stderr goes to the run log, so a startup failure is classified from what the log
 *   gained after the header.
 * - A startup failure later than `runStartupMs` (default 2 s) is not reported by `run` (a `tart run`
 *   can wait silently behind a clone's lock on TART_HOME, and Softnet can die a moment after the VM
 *   started). `run` remembers where its log started; when `ip` then fails, the log written since is
 *   classified and a recognised failure (VZ limit, out of disk, missing share dir, Softnet) is thrown
 *   instead of `no-ip`, so the VZ-limit pause and the operator advice still happen (audit tart.md #5).
 * - `--dir cache:<dir>[:ro]`: tart splits `[name:]path[:options]` at the first `:` and reads the
 *   comma-separated options `ro` and `tag=` from the last `:`-segment only, so a cache dir whose last
 *   segment looks like options is refused (audit #10). The dir is created (`mkdir -p`) before every
 *   run: tart fails at once on a missing share path (`VZErrorDomain Code=2`, audit #2).
 * - Children get an allow-listed environment (see `tartChildEnv`): the daemon's secrets
 *   (`TART_FLEET_*`, `GITHUB_TOKEN`, …) never reach tart, its log or `ps eww`.
 * - `list` parses JSON and ignores key order, whitespace and `\/` escaping; OCI cache entries are
 *   dropped even though `--source local` is asked for. Anything unexpected throws (fail closed):
 *   an unparseable list must never read as "no VMs".
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { appendFile, mkdir, readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { homedir } from 'node:os';
import { $, type ProcessOutput, type ProcessPromise } from 'zx/core';
import type { Logger } from '../core/logger.js';
import { TartError, type RunOptions, type Tart, type TartVm, type TartVmDetails, type VmState } from '../core/ports.js';
import { classifyTartFailure, firstLine, knownFailureIn } from './tart-errors.js';

export interface TartTimeouts {
  /** list, get, set, delete, --version. */
  defaultMs: number;
  /** clone: a remote source is pulled first, which can take many minutes. */
  cloneMs: number;
  /** ip: `--wait` seconds plus this margin. */
  ipMarginMs: number;
  /** stop: `--timeout` seconds plus this margin (tart SIGKILLs the VM after its own timeout). */
  stopMarginMs: number;
  /** How long `run` watches the new `tart run` for an immediate startup failure. */
  runStartupMs: number;
}

export const DEFAULT_TART_TIMEOUTS: TartTimeouts = {
  defaultMs: 30_000,
  cloneMs: 30 * 60_000,
  ipMarginMs: 15_000,
  stopMarginMs: 15_000,
  runStartupMs: 2_000,
};

export interface TartAdapterOptions {
  /** TART_FLEET_TART_BIN, or 'tart' to find it on PATH. */
  tartBin: string;
  logger: Logger;
  /** Environment the tart child processes are drawn from (default process.env); see `tartChildEnv`. */
  env?: NodeJS.ProcessEnv;
  timeouts?: Partial<TartTimeouts>;
}

/**
 * The only variables tart children see. tart reads `TART_*` (TART_HOME, TART_NO_AUTO_PRUNE,
 * TART_REGISTRY_USERNAME/PASSWORD for its own pulls); locale and the user's identity are what
 * Foundation, bash and `exec` need. Everything else (`TART_FLEET_*`, `GITHUB_TOKEN`, cloud keys) stays
 * in the daemon.
 */
const CHILD_ENV_NAMES = new Set(['PATH', 'HOME', 'USER', 'LOGNAME', 'TMPDIR', 'LANG', 'TZ']);

export function tartChildEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) continue;
    const tartOwn = k.startsWith('TART_') && !k.startsWith('TART_FLEET_');
    if (CHILD_ENV_NAMES.has(k) || k.startsWith('LC_') || tartOwn) out[k] = v;
  }
  return out;
}

/**
 * Starts `bin args` through zx's `$`, with every option this adapter uses set on each call.
 *
 * Not `$(options)`: that form runs the command inside zx's AsyncLocalStorage (`within`), and the
 * first `AsyncLocalStorage.run` turns on Node's promise hooks for the rest of the process (Node 20).
 * Every promise the daemon makes then pays for them: measured ~15 % more CPU in the GitHub sweep,
 * which makes ~70 requests a tick at 1,000 repositories (issue #21). zx copies its defaults
 * synchronously when `$` is called, so setting them just before the call is exact; all of them are
 * set every time, so no call inherits another's. Only this module uses zx.
 */
function tartProcess(bin: string, args: string[], opts: { env: NodeJS.ProcessEnv; detached: boolean; stdio: ['ignore', 'pipe' | number, 'pipe' | number] }): ProcessPromise {
  Object.assign($, { nothrow: true, quiet: true, prefix: 'exec ', postfix: '', ...opts });
  return $`${bin} ${args}`;
}

const HEADER_PREFIX = '# tart-fleet: tart run ';
const HEADER_RE = /^# tart-fleet: tart run (\S+) started (\S+)\s*$/;

export class TartAdapter implements Tart {
  private readonly bin: string;
  private readonly log: Logger;
  private readonly env: NodeJS.ProcessEnv;
  private readonly timeouts: TartTimeouts;
  /** Where each VM's latest `run` started writing its log: `ip` reads it back when it fails. */
  private readonly runLogs = new Map<string, { file: string; offset: number }>();

  constructor(opts: TartAdapterOptions) {
    this.bin = opts.tartBin;
    this.log = opts.logger.child({ component: 'tart' });
    this.env = tartChildEnv(opts.env ?? process.env);
    this.timeouts = { ...DEFAULT_TART_TIMEOUTS, ...opts.timeouts };
  }

  async list(): Promise<TartVm[]> {
    const args = ['list', '--format', 'json', '--source', 'local'];
    const stdout = await this.exec(args, this.timeouts.defaultMs);
    const raw = parseJson(args, stdout);
    if (!Array.isArray(raw)) throw bad(args, 'tart list did not print a JSON array');
    const vms: TartVm[] = [];
    for (const entry of raw as unknown[]) {
      const e = asRecord(args, entry);
      // Older tart spelled the cache source "oci"; anything not local is a cache entry.
      if (typeof e.Source === 'string' && e.Source.toLowerCase() !== 'local') continue;
      if (typeof e.Name !== 'string' || e.Name === '') throw bad(args, 'tart list entry without a Name');
      vms.push({ name: e.Name, state: parseState(args, e) });
    }
    return vms;
  }

  async get(name: string): Promise<TartVmDetails> {
    const args = ['get', name, '--format', 'json'];
    const e = asRecord(args, parseJson(args, await this.exec(args, this.timeouts.defaultMs)));
    if (typeof e.CPU !== 'number' || typeof e.Memory !== 'number') throw bad(args, 'tart get: CPU or Memory missing');
    // `OS` exists since tart 2.8.0 (audit tart.md #15); older versions only ran macOS guests for us.
    const os = e.OS === undefined ? 'darwin' : e.OS;
    if (os !== 'darwin' && os !== 'linux') throw bad(args, `tart get: unknown OS ${String(os)}`);
    return { name, state: parseState(args, e), os, cpu: e.CPU, ramMb: e.Memory };
  }

  async clone(source: string, name: string): Promise<void> {
    await this.exec(['clone', source, name], this.timeouts.cloneMs);
  }

  async set(name: string, opts: { cpu: number; ramMb: number; randomMac: boolean }): Promise<void> {
    const args = ['set', name, '--cpu', String(opts.cpu), '--memory', String(opts.ramMb)];
    if (opts.randomMac) args.push('--random-mac');
    await this.exec(args, this.timeouts.defaultMs);
  }

  async run(name: string, opts: RunOptions): Promise<void> {
    const args = ['run', name, '--no-graphics', '--no-audio', '--no-clipboard'];
    if (opts.cache) {
      const problem = shareDirProblem(opts.cache.dir);
      if (problem) throw new TartError('usage', args, null, problem);
      args.push('--dir', `cache:${opts.cache.dir}${opts.cache.readOnly ? ':ro' : ''}`);
    }
    if (opts.netSoftnet) args.push('--net-softnet');
    if (opts.netSoftnetAllow.length > 0) args.push('--net-softnet-allow', opts.netSoftnetAllow.join(','));
    if (opts.netSoftnetBlock.length > 0) args.push('--net-softnet-block', opts.netSoftnetBlock.join(','));
    if (opts.rootDiskOpts !== '') args.push('--root-disk-opts', opts.rootDiskOpts);

    let offset: number;
    let fd: number;
    if (opts.cache) {
      try {
        await mkdir(opts.cache.dir, { recursive: true });
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        throw new TartError(e.code === 'ENOSPC' ? 'out-of-disk' : 'other', args, null, `cannot create the cache dir ${opts.cache.dir}: ${e.message}`);
      }
    }
    try {
      await mkdir(dirname(opts.logFile), { recursive: true, mode: 0o700 });
      // The header goes in before tart starts, so startedAt works even if tart dies at once.
      // 0600: a guest's console output may name private repositories (SECURITY.md, files at rest).
      await appendFile(opts.logFile, `${HEADER_PREFIX}${name} started ${new Date().toISOString()}\n`, { mode: 0o600 });
      offset = (await stat(opts.logFile)).size;
      fd = openSync(opts.logFile, 'a');
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const line = `cannot write the run log ${opts.logFile}: ${e.message}`;
      throw new TartError(e.code === 'ENOSPC' ? 'out-of-disk' : 'other', args, null, line);
    }

    const started = Date.now();
    let p: ProcessPromise;
    try {
      // setsid(): its own session and process group, so it survives us and our terminal's signals.
      p = tartProcess(this.bin, args, { env: this.env, detached: true, stdio: ['ignore', fd, fd] });
    } catch (err) {
      closeSync(fd);
      throw new TartError('other', args, null, (err as Error).message);
    }

    let timer: NodeJS.Timeout | undefined;
    const exited = await Promise.race([
      p.then((o) => o),
      new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), this.timeouts.runStartupMs))),
    ]);
    clearTimeout(timer);
    closeSync(fd); // the child has its own copy

    if (exited === undefined) {
      // Still running: let it live on without keeping our event loop alive.
      p.child?.unref();
      this.log.debug('tart command', { command: args, pid: p.pid, exitCode: null, durationMs: Date.now() - started, detached: true });
      // Only a run that got past the watch: a run that failed at once has already said why.
      this.runLogs.set(name, { file: opts.logFile, offset });
      return;
    }
    this.log.debug('tart command', { command: args, exitCode: exited.exitCode, signal: exited.signal, durationMs: exited.duration });
    if (exited.exitCode === 0) return; // the VM started and already stopped; the log says why
    const output = await readFrom(opts.logFile, offset);
    const cls = classifyTartFailure(exited.exitCode, output, spawnErrorCode(exited));
    throw new TartError(cls.kind, args, exited.exitCode, firstLine(output) || describeExit(exited), cls.advice);
  }

  /**
   * When the VM was started: the last header of its run log, else the time tart last wrote its
   * config.json (`tart set`, the step just before every `run`): a run log can be cleaned away by an
   * operator, the VM's own files cannot while it exists. Undefined when neither is readable.
   */
  async startedAt(name: string, logFile: string): Promise<number | undefined> {
    let text: string;
    try {
      text = await readFile(logFile, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      return this.configWrittenAt(name);
    }
    let last: number | undefined;
    for (const line of text.split('\n')) {
      if (!line.startsWith(HEADER_PREFIX)) continue;
      const m = HEADER_RE.exec(line);
      if (!m || m[1] !== name) continue;
      const t = Date.parse(m[2] ?? '');
      if (Number.isFinite(t)) last = t; // the last header wins: the VM may have been run again
    }
    return last ?? this.configWrittenAt(name);
  }

  private async configWrittenAt(name: string): Promise<number | undefined> {
    const home = this.env.TART_HOME || join(homedir(), '.tart');
    try {
      return (await stat(join(home, 'vms', name, 'config.json'))).mtimeMs;
    } catch {
      return undefined;
    }
  }

  async ip(name: string, waitSeconds: number): Promise<string> {
    const wait = Math.min(65_535, Math.max(0, Math.floor(waitSeconds))); // tart parses a UInt16
    const args = ['ip', name, '--wait', String(wait)];
    let stdout: string;
    try {
      stdout = await this.exec(args, wait * 1000 + this.timeouts.ipMarginMs);
    } catch (err) {
      throw (await this.diedAfterStart(name, args, err)) ?? err;
    }
    const ip = stdout.trim();
    if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(ip)) throw new TartError('no-ip', args, 0, `unexpected output: ${firstLine(stdout)}`);
    return ip;
  }

  async stop(name: string, timeoutSeconds: number): Promise<void> {
    const t = Math.max(0, Math.floor(timeoutSeconds));
    await this.exec(['stop', name, '--timeout', String(t)], t * 1000 + this.timeouts.stopMarginMs);
  }

  async delete(name: string): Promise<void> {
    await this.exec(['delete', name], this.timeouts.defaultMs);
  }

  /**
   * When `ip` failed, the VM may have died after `run` stopped watching it: the run log written
   * since that run started says why. Returns the recognised failure as a TartError, else undefined.
   */
  private async diedAfterStart(name: string, args: string[], err: unknown): Promise<TartError | undefined> {
    if (!(err instanceof TartError) || (err.kind !== 'no-ip' && err.kind !== 'timeout')) return undefined;
    const run = this.runLogs.get(name);
    if (!run) return undefined;
    let text: string;
    try {
      text = await readFrom(run.file, run.offset);
    } catch {
      return undefined; // no log to read: the ip error stands
    }
    const known = knownFailureIn(text);
    // Only failures that end a VM; `already running` and the like come from other invocations.
    if (!known || !['vz-limit', 'out-of-disk', 'other'].includes(known.kind)) return undefined;
    this.log.debug('tart run died after its startup watch', { vm: name, kind: known.kind, line: known.line });
    return new TartError(known.kind, args, err.exitCode, `tart run ${name} died: ${known.line}`, known.advice);
  }

  /**
   * `tart exec [-i] <name> <argv...>`: runs a command in the guest through the Tart Guest Agent
   * (tart >= 2.27.0, macOS 14+ host) and resolves with its exit code and output; `stdin` (if given)
   * goes to the command's stdin and nowhere else. tart exits with the guest command's code, 2 when
   * the VM is not running, 1 when the agent cannot be reached. Spawned without a shell: a pipe on
   * stdin would make `bash -c` read ~/.bashrc (see the header).
   */
  async execInGuest(name: string, argv: string[], opts: { stdin?: string; timeoutMs: number }): Promise<{ exitCode: number | null; stdout: string; stderr: string }> {
    const args = ['exec', ...(opts.stdin !== undefined ? ['-i'] : []), name, ...argv];
    const started = Date.now();
    const child = spawn(this.bin, args, { env: this.env, stdio: [opts.stdin !== undefined ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdin?.on('error', () => undefined); // the command may exit without reading it
    child.stdin?.end(opts.stdin);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs);
    const exit = await new Promise<{ code: number | null; error?: NodeJS.ErrnoException }>((resolve) => {
      child.once('error', (error: NodeJS.ErrnoException) => resolve({ code: null, error }));
      child.once('close', (code) => resolve({ code }));
    });
    clearTimeout(timer);
    // The command line only: stdin may hold a credential.
    this.log.debug('tart command', { command: args, exitCode: exit.code, durationMs: Date.now() - started });
    if (exit.error) {
      const cls = classifyTartFailure(null, '', exit.error.code);
      throw new TartError(cls.kind, args, null, exit.error.message, cls.advice);
    }
    if (timedOut) throw new TartError('timeout', args, exit.code, `no answer within ${opts.timeoutMs} ms, killed pid ${child.pid ?? '?'}`);
    return { exitCode: exit.code, stdout, stderr };
  }

  async version(): Promise<string> {
    return (await this.exec(['--version'], this.timeouts.defaultMs)).trim();
  }

  /** Runs one short tart command; resolves with stdout or rejects with a classified TartError. */
  private async exec(args: string[], timeoutMs: number): Promise<string> {
    const started = Date.now();
    // stdin is /dev/null, not a pipe: see the header on why bash must not see a socket there.
    const p = tartProcess(this.bin, args, { env: this.env, detached: false, stdio: ['ignore', 'pipe', 'pipe'] });
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    const kill = () => {
      timedOut = true;
      // Thanks to the `exec ` prefix this pid is tart itself, not a shell around it.
      const pid = p.pid;
      if (pid === undefined) {
        // On a loaded machine the spawn can lag behind a short timeout: kill it once it exists,
        // or a hung tart would never be killed and the command would never end.
        timer = setTimeout(kill, 50);
        return;
      }
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    timer = setTimeout(kill, timeoutMs);
    let out: ProcessOutput;
    try {
      out = await p;
    } finally {
      clearTimeout(timer);
    }
    const durationMs = Date.now() - started;
    this.log.debug('tart command', { command: args, exitCode: out.exitCode, signal: out.signal, durationMs });
    if (timedOut) {
      throw new TartError('timeout', args, out.exitCode, `no answer within ${timeoutMs} ms, killed pid ${p.pid ?? '?'}`);
    }
    if (out.exitCode === 0) return out.stdout;
    const cls = classifyTartFailure(out.exitCode, out.stderr, spawnErrorCode(out));
    throw new TartError(cls.kind, args, out.exitCode, firstLine(out.stderr) || describeExit(out), cls.advice);
  }
}

/**
 * Why `dir` cannot be passed as `--dir cache:<dir>`, or undefined. tart reads `ro` and `tag=` from the
 * last `:`-separated segment (Run.swift), so `/a:b,ro` would silently become a read-only share of `/a`.
 */
function shareDirProblem(dir: string): string | undefined {
  if (dir === '') return 'the cache dir is empty';
  if (!dir.includes(':')) return undefined;
  const last = dir.slice(dir.lastIndexOf(':') + 1);
  const words = last.split(',');
  if (words.some((w) => w === 'ro' || w.startsWith('tag='))) {
    return `the cache dir ${dir} ends in ":${last}", which tart would read as share options (ro, tag=); rename it`;
  }
  return undefined;
}

function spawnErrorCode(out: ProcessOutput): string | undefined {
  const cause = (out as { cause?: unknown }).cause;
  const code = cause && typeof cause === 'object' ? (cause as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}

function describeExit(out: ProcessOutput): string {
  return out.signal ? `killed by ${out.signal}` : `exit ${out.exitCode ?? 'none'} without output`;
}

async function readFrom(file: string, offset: number): Promise<string> {
  const buf = await readFile(file);
  return buf.subarray(Math.min(offset, buf.length)).toString('utf8');
}

function bad(args: string[], msg: string): TartError {
  return new TartError('other', args, 0, msg);
}

function parseJson(args: string[], stdout: string): unknown {
  try {
    return JSON.parse(stdout);
  } catch {
    throw bad(args, `unparseable JSON from tart: ${firstLine(stdout).slice(0, 200)}`);
  }
}

function asRecord(args: string[], v: unknown): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw bad(args, 'tart printed JSON that is not an object');
  return v as Record<string, unknown>;
}

function parseState(args: string[], e: Record<string, unknown>): VmState {
  const s = e.State;
  if (s === 'running' || s === 'stopped' || s === 'suspended') return s;
  if (s === undefined && typeof e.Running === 'boolean') return e.Running ? 'running' : 'stopped';
  throw bad(args, `unknown VM state ${JSON.stringify(s)}`);
}
