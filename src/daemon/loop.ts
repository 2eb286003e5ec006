/**
 * The daemon loop: a tick every `host.poll_seconds` with ±10 % jitter (several Macs on one org
 * drift apart instead of polling in lock-step), exponential backoff after failed ticks (up to
 * 5 minutes), and an immediate next tick after one that deleted VMs (their RAM is free now) or when
 * the event feed wakes it (`wake`, daemon/feed-loop.ts: a new job was queued; not while backing off).
 *
 * ## Lifecycle
 * Runs until `signal` aborts (SIGTERM/SIGINT): the tick in flight finishes (and its `onTick`, which
 * publishes the status snapshot), then it returns.
 * VMs are left running; the next start adopts them (their names say everything needed).
 */
import type { Clock } from '../core/ports.js';
import type { Logger } from '../core/logger.js';
import type { TickReport } from './report.js';
import type { Wake } from './feed-loop.js';

/** What the loop reads of a tick's report: whether it went well, and whether RAM was freed. */
export type LoopReport = Pick<TickReport, 'ok' | 'deletedVms'>;

export interface LoopOptions<R extends LoopReport = TickReport> {
  tick: () => Promise<R>;
  pollSeconds: number;
  clock: Clock;
  logger: Logger;
  signal: AbortSignal;
  /** Random source in [0, 1), injectable for tests. */
  random?: () => number;
  /**
   * Called after each tick that returned a report, with the delay before the next tick (the status
   * snapshot uses it to tell a daemon backing off from one that is gone). Awaited; a throw is logged.
   */
  onTick?: (report: R, nextTickMs: number) => Promise<void> | void;
  /** Ends the sleep between ticks early (the event feed saw a new job). */
  wake?: Wake;
}

const MAX_BACKOFF_MS = 5 * 60_000;

export function nextDelayMs(pollSeconds: number, consecutiveFailures: number, deletedVms: number, random: number): number {
  if (consecutiveFailures === 0 && deletedVms > 0) return 1000;
  const base = pollSeconds * 1000 * 2 ** Math.min(consecutiveFailures, 10);
  const capped = Math.min(base, Math.max(MAX_BACKOFF_MS, pollSeconds * 1000));
  return Math.round(capped * (0.9 + 0.2 * random));
}

export async function runLoop<R extends LoopReport>(opts: LoopOptions<R>): Promise<void> {
  const random = opts.random ?? Math.random;
  let failures = 0;
  while (!opts.signal.aborted) {
    let report: R | undefined;
    try {
      report = await opts.tick();
    } catch (err) {
      opts.logger.error('tick crashed', { error: (err as Error).message });
    }
    failures = report?.ok ? 0 : failures + 1;
    const delay = nextDelayMs(opts.pollSeconds, failures, report?.deletedVms ?? 0, random());
    if (report && opts.onTick) {
      try {
        await opts.onTick(report, delay);
      } catch (err) {
        opts.logger.error('after-tick hook failed', { error: (err as Error).message });
      }
    }
    if (opts.signal.aborted) break;
    if (failures > 0) opts.logger.warn('tick failed; backing off', { failures, next_tick_ms: delay });
    await sleepUnlessWoken(opts, delay, failures === 0);
  }
  opts.logger.info('stopping: tick finished, VMs left running for the next start to adopt');
}

/** The sleep between ticks; a wake ends it early unless the loop is backing off. */
async function sleepUnlessWoken(opts: Pick<LoopOptions, 'wake' | 'clock' | 'signal'>, delay: number, wakeable: boolean): Promise<void> {
  if (!opts.wake || !wakeable) return opts.clock.sleep(delay, opts.signal);
  const early = new AbortController();
  const end = () => early.abort();
  opts.signal.addEventListener('abort', end, { once: true });
  const cancel = opts.wake.onWake(end);
  try {
    await opts.clock.sleep(delay, early.signal);
  } finally {
    cancel();
    opts.signal.removeEventListener('abort', end);
  }
}
