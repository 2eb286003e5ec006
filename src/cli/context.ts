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
}

/** Thrown by a command to end with a given exit code after printing `lines` to stderr. */
export class ExitError extends Error {
  constructor(readonly code: number, readonly lines: string[]) {
    super(lines.join('\n'));
    this.name = 'ExitError';
  }
}

export function println(stream: Writable, text = ''): void {
  stream.write(`${text}\n`);
}

/** Where tart keeps its VMs and caches: `TART_HOME`, else `~/.tart` (as tart itself decides). */
export function tartHomeOf(ctx: CliContext): string {
  return ctx.env.TART_HOME || join(homedir(), '.tart');
}
