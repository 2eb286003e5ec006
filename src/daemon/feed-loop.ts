/**
 * The event feed's own loop: polls GitHub's webhook delivery log (adapters/github-hook-feed.ts) every
 * `FEED_POLL_MS`, independently of the tick, and wakes the planner as soon as a poll hinted at a new
 * job (`Wake`), so the next tick starts now instead of after the rest of `host.poll_seconds`.
 *
 * ## Lifecycle
 * `runFeedLoop` runs until `signal` aborts; the poll in flight finishes first. `Wake` lives as long as
 * the daemon and is shared with daemon/loop.ts.
 *
 * ## Gotchas
 * - A poll never throws (a failing feed is the feed's state, shown in `ls`); a throw here would be a
 *   bug, logged, and the loop goes on.
 * - A wake while a tick runs is kept (`pending`) and ends the sleep after that tick at once: the tick
 *   may have read the repository before the hint arrived.
 * - ~20 requests a minute at 3 s, mostly 304s, within `github.max_requests_per_minute` (a poll is
 *   skipped while the minute's budget is spent).
 */
import type { Clock } from '../core/ports.js';
import type { Logger } from '../core/logger.js';

/** How often the delivery log is read: "within seconds" for ~20 requests a minute. */
export const FEED_POLL_MS = 3000;

/** A wake-up for the tick loop's sleep (see the header). */
export class Wake {
  private pending = false;
  private listener: (() => void) | undefined;

  wake(): void {
    if (this.listener) this.listener();
    else this.pending = true;
  }

  /** Calls `fn` on the next wake (at once if one is pending); returns a cancel. */
  onWake(fn: () => void): () => void {
    if (this.pending) {
      this.pending = false;
      fn();
      return () => undefined;
    }
    this.listener = () => {
      this.listener = undefined;
      fn();
    };
    return () => {
      this.listener = undefined;
    };
  }
}

export async function runFeedLoop(opts: {
  poll: () => Promise<number>;
  wake: Wake;
  clock: Clock;
  logger: Logger;
  signal: AbortSignal;
  everyMs?: number;
}): Promise<void> {
  const every = opts.everyMs ?? FEED_POLL_MS;
  while (!opts.signal.aborted) {
    try {
      if ((await opts.poll()) > 0) opts.wake.wake();
    } catch (err) {
      opts.logger.error('event feed poll crashed', { error: (err as Error).message });
    }
    await opts.clock.sleep(every, opts.signal);
  }
}
