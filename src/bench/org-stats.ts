/**
 * The arithmetic of the org-scale bench, pure: latency percentiles with jobs that were never found,
 * requests-per-minute peaks (sliding and per window minute), and the request summary of one poller
 * over the bench window (counted, 304, refused, per hour, peaks).
 *
 * ## Gotchas
 * - Percentiles are nearest-rank over every scheduled job of a kind; a job not found counts as
 *   +∞, so a percentile that lands on one is `null` ("not found"), never a made-up number.
 * - "Counted" is what GitHub's primary budget would charge: every request but 304s and
 *   `GET /rate_limit`. Requests refused by a rate limit (403/429) are in it too (they were sent, and
 *   a naive poller keeps sending them); `refused` says how many.
 * - Broker traffic (the simulated runners' long polls) and App token exchanges are not the poller's
 *   and are left out by `isPollerRequest`.
 */
import { BROKER_PREFIX } from '../sim/github/broker.js';
import type { RequestEvent } from '../sim/github/server.js';

/** Nearest-rank percentile (q in (0, 1]) of `values`; `null` when it is +∞ (not found) or there are none. */
export function percentile(values: number[], q: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  const v = sorted[rank - 1]!;
  return Number.isFinite(v) ? v : null;
}

export interface LatencySummary {
  jobs: number;
  found: number;
  /** Seconds, one decimal; null: the job at that rank was not found in the window. */
  p50_s: number | null;
  p95_s: number | null;
  p99_s: number | null;
  max_s: number | null;
}

/** Summary of discovery latencies in ms (`undefined` or +∞: not found). */
export function latencySummary(latenciesMs: Array<number | undefined>): LatencySummary {
  const values = latenciesMs.map((v) => (v === undefined ? Infinity : v));
  const s = (v: number | null) => (v === null ? null : Math.round(v / 100) / 10);
  return {
    jobs: values.length,
    found: values.filter(Number.isFinite).length,
    p50_s: s(percentile(values, 0.5)),
    p95_s: s(percentile(values, 0.95)),
    p99_s: s(percentile(values, 0.99)),
    max_s: s(percentile(values, 1)),
  };
}

/** The most timestamps (ms) in any half-open 60 s interval. */
export function slidingMinutePeak(times: number[], windowMs = 60_000): number {
  const sorted = [...times].sort((a, b) => a - b);
  let peak = 0;
  let lo = 0;
  for (let hi = 0; hi < sorted.length; hi++) {
    while (sorted[hi]! - sorted[lo]! >= windowMs) lo++;
    peak = Math.max(peak, hi - lo + 1);
  }
  return peak;
}

/** Requests in each whole minute counted from `startMs` (minute 0 = [start, start + 60 s)). */
export function perMinuteCounts(times: number[], startMs: number, endMs: number): number[] {
  const minutes = Math.max(1, Math.ceil((endMs - startMs) / 60_000));
  const counts = new Array<number>(minutes).fill(0);
  for (const t of times) {
    if (t < startMs || t >= endMs) continue;
    counts[Math.floor((t - startMs) / 60_000)]! += 1;
  }
  return counts;
}

/** Whether a request is the poller's own (not a simulated runner's broker traffic or a token exchange). */
export function isPollerRequest(route: string): boolean {
  return !route.includes(`${BROKER_PREFIX}/`) && !route.startsWith('POST /app/installations/');
}

export interface RequestSummary {
  window_s: number;
  total: number;
  not_modified: number;
  counted: number;
  /** Answered 403/429 (rate limited: primary or secondary). */
  refused: number;
  total_per_hour: number;
  counted_per_hour: number;
  /** Most requests (all, 304s included) in any 60 s of the window. */
  peak_per_minute_sliding: number;
  /** Most requests in one whole minute counted from the window start. */
  peak_per_minute_calendar: number;
  /** Seconds from the window start to the first 403/429, or null. */
  first_refusal_s: number | null;
  /** Requests per endpoint within the window. */
  by_route: Record<string, number>;
}

/** Summarises a poller's requests that arrived in [startMs, endMs). */
export function summariseRequests(events: RequestEvent[], startMs: number, endMs: number): RequestSummary {
  const mine = events.filter((e) => e.at >= startMs && e.at < endMs && isPollerRequest(e.route));
  const hours = (endMs - startMs) / 3_600_000;
  const notModified = mine.filter((e) => e.status === 304).length;
  const uncharged = mine.filter((e) => e.status === 304 || e.route === 'GET /rate_limit').length;
  const refusals = mine.filter((e) => e.status === 403 || e.status === 429);
  const byRoute: Record<string, number> = {};
  for (const e of mine) byRoute[e.route] = (byRoute[e.route] ?? 0) + 1;
  const times = mine.map((e) => e.at);
  return {
    window_s: Math.round((endMs - startMs) / 1000),
    total: mine.length,
    not_modified: notModified,
    counted: mine.length - uncharged,
    refused: refusals.length,
    total_per_hour: Math.round(mine.length / hours),
    counted_per_hour: Math.round((mine.length - uncharged) / hours),
    peak_per_minute_sliding: slidingMinutePeak(times),
    peak_per_minute_calendar: Math.max(0, ...perMinuteCounts(times, startMs, endMs)),
    first_refusal_s: refusals.length === 0 ? null : Math.round((refusals.reduce((m, e) => Math.min(m, e.at), Infinity) - startMs) / 100) / 10,
    by_route: byRoute,
  };
}

/** a / b rounded to one decimal, or null when b is 0 or either is missing. */
export function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  if (a === null || a === undefined || b === null || b === undefined || b === 0) return null;
  return Math.round((a / b) * 10) / 10;
}
