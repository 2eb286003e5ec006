/**
 * Follows a growing text file (`logs --follow`): prints what is there, then every line added to it,
 * each through the redactor, until stopped. Like `tail -F`: a file that is replaced (the daemon's
 * log rotates: tart-fleet.log is renamed tart-fleet1.log and a new one begun, adapters/logger.ts)
 * or truncated is read again from its start, and a file that is briefly missing is waited for.
 *
 * ## Lifecycle
 * Ends, quietly and without error, when `signal` aborts (the caller wires SIGINT/SIGTERM to it) or
 * when the output's reader goes away (EPIPE: `logs --follow | head`; the command then exits 141, as
 * every command does whose reader left, main.ts).
 *
 * ## Gotchas
 * - Polls (stat every POLL_MS) rather than fs.watch: fs.watch misses changes on some filesystems
 *   and behaves differently on macOS and Linux (Node docs, "fs.watch: Caveats"); a log is not worth
 *   the difference. Half a second of latency is what a person watching a log notices not at all.
 * - Only whole lines are redacted and printed: a secret cut in two by a read must not slip past the
 *   redactor half by half. A partial line waits for its end (or is flushed past MAX_PENDING).
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { systemClock } from '../adapters/clock.js';

export const POLL_MS = 500;
const MAX_PENDING = 64 * 1024;
const CHUNK = 64 * 1024;

export async function followFile(path: string, out: Writable, redact: (text: string) => string, signal: AbortSignal): Promise<void> {
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  if (signal.aborted) stop.abort();
  let failure: Error | undefined;
  const onError = (err: NodeJS.ErrnoException) => {
    // EPIPE: the reader went away, nothing more to show anyone. Any other error ends it as a failure.
    if (err.code !== 'EPIPE') failure = err;
    stop.abort();
  };
  out.on('error', onError);
  let ino: number | undefined;
  let offset = 0;
  let pending = '';
  let decoder = new StringDecoder('utf8');
  const emit = (text: string) => {
    if (!stop.signal.aborted && text !== '') out.write(redact(text));
  };
  try {
    while (!stop.signal.aborted) {
      let size: number | undefined;
      try {
        const s = statSync(path);
        // Replaced (rotated), or truncated: the file from its start.
        if ((ino !== undefined && s.ino !== ino) || s.size < offset) {
          offset = 0;
          decoder = new StringDecoder('utf8');
        }
        ino = s.ino;
        size = s.size;
      } catch {
        size = undefined; // briefly missing (mid-rotation): wait for it
      }
      if (size !== undefined && size > offset) {
        const fd = openSync(path, 'r');
        try {
          const buf = Buffer.alloc(CHUNK);
          while (offset < size && !stop.signal.aborted) {
            const n = readSync(fd, buf, 0, Math.min(CHUNK, size - offset), offset);
            if (n <= 0) break;
            offset += n;
            pending += decoder.write(buf.subarray(0, n)); // a character cut by the read waits for its other bytes
            const end = pending.lastIndexOf('\n');
            if (end >= 0) {
              emit(pending.slice(0, end + 1));
              pending = pending.slice(end + 1);
            } else if (pending.length > MAX_PENDING) {
              emit(pending);
              pending = '';
            }
          }
        } finally {
          closeSync(fd);
        }
        continue;
      }
      await systemClock.sleep(POLL_MS, stop.signal);
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
    // Let a write still in flight fail into our handler, not into an unhandled 'error'.
    setImmediate(() => out.off('error', onError));
  }
  if (failure) throw failure;
}
