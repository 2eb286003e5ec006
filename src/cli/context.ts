/**
 * What every command gets from the composition root: the process environment, the working
 * directory, output streams and OS facts. Commands never read `process.*` themselves, so tests can
 * run them in-process with a pinned world.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';

export interface CliContext {
  env: NodeJS.ProcessEnv;
  cwd: string;
  stdout: Writable & { isTTY?: boolean; columns?: number };
  stderr: Writable;
  hostname: string;
  totalMemBytes: number;
  /** process.platform; `launchd --install`, `validate` and `selftest` behave differently off macOS. */
  platform?: NodeJS.Platform;
  /** `--log-format`: `text` (one readable line per event) or `json`; unset: text on a TTY, else json. */
  logFormat?: 'json' | 'text';
  /** `run --log-file`: the daemon's events also go to this file as JSON lines, rotated by size. */
  logFile?: string;
  /**
   * `validate`'s GitHub probe: each request gets one attempt (no 5xx/network retries) of at most
   * this many ms, so a dead network is reported in seconds. Unset: the daemon's patient defaults.
   */
  githubProbeTimeoutMs?: number;
}

/** Thrown by a command to end with a given exit code after printing `lines` to stderr. */
export class ExitError extends Error {
  constructor(readonly code: number, readonly lines: string[]) {
    super(lines.join('\n'));
    this.name = 'ExitError';
  }
}

/** The platform a command runs on (the context's, else this process's). */
export function platformOf(ctx: CliContext): NodeJS.Platform {
  return ctx.platform ?? process.platform;
}

/** Whether a stream is a terminal (progress lines and colours only go to one). */
export function isTTY(stream: Writable): boolean {
  return (stream as { isTTY?: boolean }).isTTY === true;
}

export function println(stream: Writable, text = ''): void {
  stream.write(`${text}\n`);
}

/** Where tart keeps its VMs and caches: `TART_HOME`, else `~/.tart` (as tart itself decides). */
export function tartHomeOf(ctx: CliContext): string {
  return ctx.env.TART_HOME || join(homedir(), '.tart');
}
