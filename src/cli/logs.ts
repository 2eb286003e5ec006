/**
 * `tart-fleet logs [vm]`: the per-VM run logs in `host.log_dir` (`<vm>.log`: what `tart run` wrote
 * while that VM lived). Without an argument it lists them, newest first, with size and age; with one
 * it prints that VM's log. The argument may be a full VM name or any unique part of one (a job id).
 * `--daemon-log [path]` prints the daemon's own log (the LaunchDaemon's tart-fleet.log by default);
 * `--follow` keeps printing what is added, until Ctrl-C or a closed pipe (cli/follow.ts).
 *
 * ## Gotchas
 * - Printed text goes through the redactor: the secrets of this environment and anything shaped like
 *   a token or a key are masked, as in the daemon's own log.
 * - Logs outlive their VMs (a finished job's VM is gone, its log stays): that is what they are for.
 * - Reads only; creates nothing (a missing log_dir is "no VM logs yet").
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { daemonLogFile } from '../launchd/plist.js';
import { followFile } from './follow.js';
import { Secrets } from '../secrets/redact.js';
import { SECRET_VALUE_VARS, expandSecretFilesTolerant } from '../secrets/secret-files.js';
import { loadForCommand } from './config.js';
import { ExitError, println, type CliContext } from './context.js';
import { runLogVm } from '../config/paths.js';

export interface LogsOptions {
  config?: string;
  json?: boolean;
  /** Keep printing what is added to the log until Ctrl-C (cli/follow.ts). */
  follow?: boolean;
  /** The daemon's own log instead of a VM's: true for the LaunchDaemon's default file, or a path. */
  daemonLog?: boolean | string;
  /** For tests: stop `--follow` without a process signal. */
  signal?: AbortSignal;
}

interface VmLog {
  vm: string;
  path: string;
  bytes: number;
  modifiedAt: number;
}

export async function logsCommand(ctx: CliContext, vm: string | undefined, opts: LogsOptions, now: () => number = Date.now): Promise<number> {
  if (opts.daemonLog !== undefined && opts.daemonLog !== false) {
    if (vm !== undefined) throw new ExitError(2, ['--daemon-log: prints the daemon\'s own log; give no VM with it']);
    const file = typeof opts.daemonLog === 'string' ? resolve(ctx.cwd, opts.daemonLog) : daemonLogFile();
    if (!existsSync(file)) throw new ExitError(1, [`no daemon log at ${file} (the LaunchDaemon writes it; pass --daemon-log PATH for a \`run --log-file\` elsewhere)`]);
    return printLog(ctx, file, opts);
  }
  if (opts.follow && vm === undefined) throw new ExitError(2, ['--follow: name a VM (or any unique part of its name), or give --daemon-log']);
  const { config } = loadForCommand(ctx, opts.config);
  const dir = config.host.log_dir;
  const logs = vmLogs(dir);
  if (vm === undefined) {
    if (opts.json) {
      println(ctx.stdout, JSON.stringify({ log_dir: dir, logs: logs.map((l) => ({ vm: l.vm, path: l.path, bytes: l.bytes, modified_at: new Date(l.modifiedAt).toISOString() })) }, null, 2));
      return 0;
    }
    if (logs.length === 0) {
      println(ctx.stdout, `no VM logs in ${dir} yet`);
      return 0;
    }
    const width = Math.max(...logs.map((l) => l.vm.length));
    println(ctx.stdout, `${'VM'.padEnd(width)}  ${'SIZE'.padStart(8)}  AGE`);
    for (const l of logs) println(ctx.stdout, `${l.vm.padEnd(width)}  ${humanBytes(l.bytes).padStart(8)}  ${humanAge(now() - l.modifiedAt)}`);
    println(ctx.stdout, `(${logs.length} log(s) in ${dir}; \`tart-fleet logs <vm>\` prints one)`);
    return 0;
  }
  const exact = logs.find((l) => l.vm === vm);
  const matches = exact ? [exact] : logs.filter((l) => l.vm.includes(vm));
  if (matches.length === 0) throw new ExitError(1, [`no log for ${JSON.stringify(vm)} in ${dir}; \`tart-fleet logs\` lists them`]);
  if (matches.length > 1) {
    throw new ExitError(2, [`${JSON.stringify(vm)} matches ${matches.length} logs: ${matches.map((l) => l.vm).join(', ')}; give more of the name`]);
  }
  return printLog(ctx, matches[0]!.path, opts);
}

/** Prints one log, redacted; with `--follow`, then what is added to it until Ctrl-C or a closed pipe. */
async function printLog(ctx: CliContext, file: string, opts: LogsOptions): Promise<number> {
  const secrets = new Secrets();
  const { env } = expandSecretFilesTolerant(ctx.env);
  for (const name of SECRET_VALUE_VARS) secrets.add(env[name]);
  const redact = (text: string) => secrets.redactText(text);
  if (!opts.follow) {
    ctx.stdout.write(redact(readFileSync(file, 'utf8')));
    return 0;
  }
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, onSignal);
  opts.signal?.addEventListener('abort', onSignal, { once: true });
  try {
    await followFile(file, ctx.stdout, redact, stop.signal);
  } finally {
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(s, onSignal);
  }
  // Stopped by the user, or the reader went away: both are how a follow ends.
  return 0;
}

function vmLogs(dir: string): VmLog[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new ExitError(1, [`cannot read host.log_dir ${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`]);
  }
  const out: VmLog[] = [];
  for (const name of names) {
    const vm = runLogVm(name);
    if (vm === undefined) continue;
    const path = join(dir, name);
    try {
      const s = statSync(path);
      if (s.isFile()) out.push({ vm, path, bytes: s.size, modifiedAt: s.mtimeMs });
    } catch {
      // removed while listing
    }
  }
  return out.sort((a, b) => b.modifiedAt - a.modifiedAt || a.vm.localeCompare(b.vm));
}

function humanBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / (1024 * 1024)).toFixed(1)} MB`;
}

function humanAge(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 90) return `${s}s ago`;
  if (s < 90 * 60) return `${Math.round(s / 60)}m ago`;
  if (s < 36 * 3600) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86400)}d ago`;
}
