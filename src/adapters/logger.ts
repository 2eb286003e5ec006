/**
 * The winston adapter of the Logger port: one line per event on stdout, every line passed through
 * `Secrets` redaction first. Two formats: `json` (one object with `time`, `level`, `msg` and the
 * context fields: for machines) and `text` (`12:03:04 info  msg  vm=… job=…`: for a person at a
 * terminal). The composition root picks text on a TTY, json otherwise.
 *
 * With `file`, the same events also go, always as JSON lines, to a file that winston's File
 * transport rotates by size (`maxsize`, `maxFiles`, `tailable`): `tart-fleet.log` is always the
 * newest, `tart-fleet1.log` the one before, and so on; the oldest beyond `maxFiles` is deleted.
 * This is the daemon's log under launchd (`run --log-file`), where stdout goes nowhere: launchd
 * holds its StandardOutPath open, so renaming that file (newsyslog) would not rotate it.
 *
 * ## Gotchas
 * - Redaction runs twice: on the structured fields (secret-named keys) and on the final serialized
 *   line (registered values and secret shapes), so nothing a format step adds can slip through.
 *   Each transport gets its own line, built and redacted the same way.
 * - Rotation happens in this process when a write would pass `maxBytes`, so no restart is needed
 *   and nothing outside (newsyslog) has to know the file. A file is never split mid-line.
 * - This is the only module that imports winston (architecture.md, "ports in, adapters out").
 */
import winston from 'winston';
import { closeSync, fchmodSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { Writable } from 'node:stream';
import type { LogContext, LogLevel, Logger } from '../core/logger.js';
import type { Secrets } from '../secrets/redact.js';

export interface WinstonLoggerOptions {
  level: LogLevel;
  secrets: Secrets;
  /** Where lines go; stdout by default. Tests pass a collecting stream. */
  stream?: Writable;
  /** `json` (default) or `text`. */
  format?: 'json' | 'text';
  /** Also write JSON lines to this file, rotated by size. */
  file?: LogFileOptions;
}

export interface LogFileOptions {
  /** The current file; rotated ones get a number before the extension (tart-fleet1.log, …). */
  path: string;
  /** Rotate when the file would pass this size. Default DEFAULT_LOG_FILE_MAX_BYTES. */
  maxBytes?: number;
  /** Files kept, the current one included. Default DEFAULT_LOG_FILES. */
  maxFiles?: number;
}

/** 10 MB × 5 files: weeks of a busy daemon's info lines, never more than 50 MB. */
export const DEFAULT_LOG_FILE_MAX_BYTES = 10_000_000;
export const DEFAULT_LOG_FILES = 5;

const MESSAGE = Symbol.for('message');

/** A winston format that renders and redacts one event as a json or text line. */
function lineFormat(kind: 'json' | 'text', secrets: Secrets): winston.Logform.Format {
  return winston.format((info) => {
    const { level, message, ...rest } = info as Record<string | symbol, unknown> & { level: string; message: unknown };
    const fields: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(rest)) fields[k] = v;
    const line = { time: new Date().toISOString(), level, msg: String(message), ...secrets.redact(fields) };
    const text = kind === 'text' ? textLine(line) : JSON.stringify(line);
    (info as Record<symbol, unknown>)[MESSAGE] = secrets.redactText(text);
    return info;
  })();
}

export function createLogger(opts: WinstonLoggerOptions): Logger {
  const format = lineFormat(opts.format ?? 'json', opts.secrets);
  const transports: winston.transport[] = [
    opts.stream
      ? new winston.transports.Stream({ stream: opts.stream, format })
      : new winston.transports.Console({ stderrLevels: [], format }),
  ];
  if (opts.file) {
    openable(opts.file.path);
    transports.push(new winston.transports.File({
      filename: opts.file.path,
      maxsize: opts.file.maxBytes ?? DEFAULT_LOG_FILE_MAX_BYTES,
      maxFiles: opts.file.maxFiles ?? DEFAULT_LOG_FILES,
      tailable: true,
      // winston's File transport hands these to fs.createWriteStream for every file it opens, the
      // rotated ones included (winston/lib/winston/transports/file.js `this.options`).
      options: { flags: 'a', mode: 0o600 },
      format: lineFormat('json', opts.secrets),
    }));
  }
  const root = winston.createLogger({ level: opts.level, transports });
  return wrap(root);
}

/**
 * Fails at start, with the path and the reason, when the log file cannot be written: winston would
 * only find out later, asynchronously, and bring the daemon down with an unhandled error event.
 */
function openable(path: string): void {
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    // 0600, also for a file an older version left 0644: log lines name private repositories.
    const fd = openSync(path, 'a', 0o600);
    try {
      fchmodSync(fd, 0o600);
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    throw new Error(`log file ${path}: cannot write it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { cause: err });
  }
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
