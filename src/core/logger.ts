/**
 * The Logger port: what the core and the adapters log through. Structured: a message plus context
 * fields (`vm`, `profile`, `repo`, `job`, `tick`, …). The winston adapter writes JSON lines; tests may
 * use `memoryLogger` to assert on events.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export type LogContext = Record<string, unknown>;

export interface Logger {
  debug(msg: string, ctx?: LogContext): void;
  info(msg: string, ctx?: LogContext): void;
  warn(msg: string, ctx?: LogContext): void;
  error(msg: string, ctx?: LogContext): void;
  /** A logger that adds `ctx` to every line, e.g. `{ component: 'tart' }`. */
  child(ctx: LogContext): Logger;
}

export interface LogEntry {
  level: LogLevel;
  msg: string;
  ctx: LogContext;
}

/** An in-memory logger for tests of the core: every entry, in order, with merged context. */
export function memoryLogger(entries: LogEntry[] = [], base: LogContext = {}): Logger & { entries: LogEntry[] } {
  const make = (level: LogLevel) => (msg: string, ctx: LogContext = {}) => {
    entries.push({ level, msg, ctx: { ...base, ...ctx } });
  };
  return {
    entries,
    debug: make('debug'),
    info: make('info'),
    warn: make('warn'),
    error: make('error'),
    child: (ctx) => memoryLogger(entries, { ...base, ...ctx }),
  };
}
