/**
 * The winston adapter of the Logger port: one line per event on stdout, every line passed through
 * `Secrets` redaction first. Two formats: `json` (one object with `time`, `level`, `msg` and the
 * context fields: for launchd's log file and machines) and `text` (`12:03:04 info  msg  vm=… job=…`:
 * for a person at a terminal). The composition root picks text on a TTY, json otherwise.
 *
 * ## Gotchas
 * - Redaction runs twice: on the structured fields (secret-named keys) and on the final serialized
 *   line (registered values and secret shapes), so nothing a format step adds can slip through.
 * - This is the only module that imports winston (architecture.md, "ports in, adapters out").
 */
import winston from 'winston';
import { Writable } from 'node:stream';
import type { LogContext, LogLevel, Logger } from '../core/logger.js';
import type { Secrets } from '../logging/redact.js';

export interface WinstonLoggerOptions {
  level: LogLevel;
  secrets: Secrets;
  /** Where lines go; stdout by default. Tests pass a collecting stream. */
  stream?: Writable;
  /** `json` (default) or `text`. */
  format?: 'json' | 'text';
}

export function createLogger(opts: WinstonLoggerOptions): Logger {
  const MESSAGE = Symbol.for('message');
  const serialize = winston.format((info) => {
    const { level, message, ...rest } = info as Record<string | symbol, unknown> & { level: string; message: unknown };
    const fields: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(rest)) fields[k] = v;
    const line = { time: new Date().toISOString(), level, msg: String(message), ...opts.secrets.redact(fields) };
    const text = opts.format === 'text' ? textLine(line) : JSON.stringify(line);
    (info as Record<symbol, unknown>)[MESSAGE] = opts.secrets.redactText(text);
    return info;
  });
  const transport = opts.stream
    ? new winston.transports.Stream({ stream: opts.stream })
    : new winston.transports.Console({ stderrLevels: [] });
  const root = winston.createLogger({ level: opts.level, format: serialize(), transports: [transport] });
  return wrap(root);
}

/** `2026-11-30T12:03:04Z warn  github request failed  status=502 vm=tf-…`: values JSON-quoted only when they need it. */
export function textLine(line: { time: string; level: string; msg: string } & Record<string, unknown>): string {
  const { time, level, msg, ...fields } = line;
  const when = time.replace(/\.\d+Z$/, 'Z');
  const pairs = Object.entries(fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${fieldText(v)}`);
  return [`${when} ${level.padEnd(5)} ${msg}`, ...pairs].join('  ');
}

function fieldText(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  return JSON.stringify(v) ?? String(v);
}

function wrap(w: winston.Logger): Logger {
  const at = (level: LogLevel) => (msg: string, ctx: LogContext = {}) => {
    w.log(level, msg, ctx);
  };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (ctx) => wrap(w.child(ctx)),
  };
}
