/**
 * What this Mac may still send to GitHub: `github.max_requests_per_minute` (default 300) as a sliding
 * window over every HTTP request the adapter sends (304s and retries included), and a daemon-wide
 * back-off after a secondary rate limit (or an exhausted primary one).
 *
 * Why a sliding window and not a token bucket: a bucket of a minute's size refilled at the same rate
 * lets through up to twice the rate in one clock minute; the window never lets more than the limit
 * through in any 60 s, which is what GitHub's "points per minute" secondary limit measures.
 *
 * ## Gotchas
 * - Only the demand sweep is throttled by it (it asks `allowance()` and sweeps fewer repositories).
 *   Runner listing, claims and deletions are counted but never refused: they are few, and a claim
 *   refused would waste the sweep that found it. The sweep keeps `reserve` requests a minute for them.
 * - The back-off refuses every request, claims included: GitHub would refuse them too, and each refused
 *   request prolongs a secondary limit. It is logged once per episode, not per refused request.
 */
import type { Logger } from '../core/logger.js';
import type { RequestBudgetStatus } from '../core/ports.js';

/**
 * The back-off a rate-limit answer asks for (facts §7, GitHub's documented order): `retry-after` if
 * present; else, with `x-ratelimit-remaining: 0`, until `x-ratelimit-reset`; else, for a secondary
 * limit or any other 429, a minute. Undefined for any other answer. Used for the reads, which go
 * through a client without plugin-throttling, and for a 429 on a write, which plugin-throttling
 * ignores unless it carries one of its two signs (github.ts).
 */
export function backoffFor(err: unknown, now: number): { until: number; reason: string } | undefined {
  const e = err as { status?: number; message?: string; response?: { headers?: Record<string, string | undefined> } } | null;
  if (e?.status !== 403 && e?.status !== 429) return undefined;
  const headers = e.response?.headers ?? {};
  const secondary = /\bsecondary rate\b/i.test(e.message ?? '');
  const exhausted = headers['x-ratelimit-remaining'] === '0';
  // A 403 for lack of access is an answer, not a limit; a 429 is always "slow down" (RFC 6585 §4),
  // whoever sent it (GitHub, its load balancer, a proxy) and whatever its text.
  if (!secondary && !exhausted && e.status !== 429) return undefined;
  const reason = secondary ? 'secondary rate limit' : exhausted ? 'primary rate limit exhausted' : 'too many requests (429)';
  const retryAfter = Number(headers['retry-after']);
  if (Number.isFinite(retryAfter) && retryAfter > 0) return { until: now + retryAfter * 1000, reason };
  const reset = Number(headers['x-ratelimit-reset']);
  if (exhausted && Number.isFinite(reset) && reset * 1000 > now) return { until: reset * 1000, reason };
  return { until: now + 60_000, reason };
}

/** Thrown instead of sending a request while the daemon backs off. GitHub's state is unknown. */
export class GitHubBackoffError extends Error {
  constructor(readonly until: number, reason: string) {
    super(`not asking GitHub until ${new Date(until).toISOString()} (${reason})`);
    this.name = 'GitHubBackoffError';
  }
}

/**
 * `share`: what the sweep may spend on stale repositories now. `hard`: what is left of the minute at
 * all; the push signal and urgent repositories may dip into the reserve, never beyond it.
 */
export interface SweepAllowance {
  share: number;
  hard: number;
}

/** Fraction of the minute's budget the sweep leaves for runner listing, claims and deletions. */
const RESERVE_FRACTION = 0.05;

/** With an event feed: the further fraction the sweep leaves for the feed's polls and its hints' sweeps. */
const FEED_FRACTION = 0.25;

export class RequestBudget {
  /** Send times (epoch ms) of the requests of the last minute, oldest first. */
  private readonly sent: number[] = [];
  private backoff: { until: number; reason: string } | undefined;
  private episodes = 0;

  constructor(
    readonly perMinute: number,
    private readonly now: () => number,
    private readonly logger: Logger,
  ) {
    if (!Number.isInteger(perMinute) || perMinute < 1) throw new Error(`github.max_requests_per_minute must be a whole number above 0, got ${perMinute}`);
  }

  /**
   * Set when an event feed is configured: the sweep then also leaves FEED_FRACTION of the minute for
   * the feed's polls and the sweeps of the repositories it hints at. Without it a cold start (every
   * repository unswept, spent at the sweep's full pace) leaves a hint nothing to be answered with
   * until the minute's window slides: measured in the event-feed e2e at 60 requests a minute, the
   * feed polled twice in 45 s and the hinted repository waited past the minute.
   */
  feedConfigured = false;

  /** Requests a minute the sweep leaves for everything else. */
  get reserve(): number {
    const fraction = RESERVE_FRACTION + (this.feedConfigured ? FEED_FRACTION : 0);
    return Math.max(1, Math.ceil(this.perMinute * fraction));
  }

  private prune(now: number): void {
    while (this.sent.length > 0 && now - this.sent[0]! >= 60_000) this.sent.shift();
  }

  /** Called for every HTTP request sent (each retry too). Never refuses: see `throwIfBackingOff`. */
  record(): void {
    const now = this.now();
    this.prune(now);
    this.sent.push(now);
  }

  /** Called before each call's first request: throws while backing off, so nothing is sent. */
  throwIfBackingOff(now = this.now()): void {
    if (this.backoff && now < this.backoff.until) throw new GitHubBackoffError(this.backoff.until, this.backoff.reason);
  }

  lastMinute(): number {
    this.prune(this.now());
    return this.sent.length;
  }

  /**
   * How many requests the sweep may send now: what is left of the last minute's window after the
   * reserve, and no more than its fair share of the time since the previous sweep (so one sweep does
   * not spend the whole minute at once and leave the next three with nothing).
   */
  allowance(sinceLastSweepMs: number): SweepAllowance {
    const used = this.lastMinute();
    const left = this.perMinute - this.reserve - used;
    const share = Math.ceil(((this.perMinute - this.reserve) * Math.min(Math.max(sinceLastSweepMs, 0), 60_000)) / 60_000);
    return { share: Math.max(0, Math.min(left, share)), hard: Math.max(0, this.perMinute - used) };
  }

  /** Stop asking GitHub until `until` (epoch ms). Logged once per episode. */
  backOff(until: number, reason: string): void {
    const now = this.now();
    if (this.backoff && now < this.backoff.until) {
      if (until > this.backoff.until) this.backoff = { until, reason };
      return;
    }
    this.backoff = { until, reason };
    this.episodes++;
    this.logger.warn('github asked us to slow down: backing off', { reason, until: new Date(until).toISOString(), seconds: Math.round((until - now) / 1000) });
  }

  status(): RequestBudgetStatus {
    const now = this.now();
    const active = this.backoff && now < this.backoff.until ? this.backoff : undefined;
    return {
      perMinute: this.perMinute,
      lastMinute: this.lastMinute(),
      backoffUntil: active?.until ?? null,
      backoffReason: active?.reason ?? null,
      backoffs: this.episodes,
    };
  }
}
