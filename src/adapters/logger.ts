/**
 * The winston adapter of the Logger port: one JSON object per line on stdout with `time`, `level`,
 * `msg` and the context fields, every line passed through `Secrets` redaction first.
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
}

export function createLogger(opts: WinstonLoggerOptions): Logger {
  const MESSAGE = Symbol.for('message');
  const serialize = winston.format((info) => {
    const { level, message, ...rest } = info as Record<string | symbol, unknown> & { level: string; message: unknown };
    const fields: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(rest)) fields[k] = v;
    const line = { time: new Date().toISOString(), level, msg: String(message), ...opts.secrets.redact(fields) };
    (info as Record<symbol, unknown>)[MESSAGE] = opts.secrets.redactText(JSON.stringify(line));
    return info;
  });
  const transport = opts.stream
    ? new winston.transports.Stream({ stream: opts.stream })
    : new winston.transports.Console({ stderrLevels: [] });
  const root = winston.createLogger({ level: opts.level, format: serialize(), transports: [transport] });
  return wrap(root);
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
