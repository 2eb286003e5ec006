/**
 * A reader that goes away (`tart-fleet ls | head -1`) ends the command quietly, the way a C tool
 * killed by SIGPIPE ends: no message, exit status 141 (128 + SIGPIPE 13), which is what a shell
 * reports for `yes | head -1`'s `yes`, so `set -o pipefail` scripts see the same status they see
 * from any other Unix tool in that position.
 *
 * Why this is needed: Node ignores SIGPIPE, so a write to a pipe whose reader has closed fails with
 * EPIPE, and the stream emits it as an 'error' event; with no listener, Node prints the error's stack
 * and exits 1 (https://nodejs.org/api/process.html#signal-events: "SIGPIPE is ignored by default";
 * https://nodejs.org/api/stream.html#event-error). GNU coreutils document the same end when the
 * signal is ignored ("write error: Broken pipe").
 *
 * ## Gotchas
 * - Only EPIPE (and the ERR_STREAM_DESTROYED of writes after it) ends quietly; any other error on
 *   the stream is re-thrown, so a full disk behind `> file` is still reported.
 * - The exit is immediate (`process.exit`): the reader is gone, so nothing the command still had
 *   to say can reach anyone. For `run`, whose stdout is a file under launchd (`--log-file`, StandardOutPath
 *   /dev/null), this matters only when someone pipes the daemon into `head`: it then stops as any
 *   SIGPIPE'd daemon would, leaving its VMs to the next start's garbage collection.
 */
import type { Writable } from 'node:stream';

/** 128 + SIGPIPE (13): the status a shell reports for a process ended by a broken pipe. */
export const BROKEN_PIPE_EXIT = 141;

export function endQuietlyOnBrokenPipe(stream: Writable, exit: (code: number) => void = (code) => process.exit(code)): void {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED') {
      exit(BROKEN_PIPE_EXIT);
      return;
    }
    throw err;
  });
}
