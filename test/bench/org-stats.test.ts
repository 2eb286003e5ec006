// The pure arithmetic of the org-scale bench: percentiles with jobs never found, per-minute peaks,
// the request summary. No timing here: the bench measures, tests check the counting.
import { describe, expect, test } from '@jest/globals';
import { latencySummary, percentile, perMinuteCounts, ratio, slidingMinutePeak, summariseRequests } from '../../src/bench/org-stats.js';

describe('percentile', () => {
  test('nearest rank over unsorted values', () => {
    const values = [50, 10, 40, 20, 30];
    expect(percentile(values, 0.5)).toBe(30);
    expect(percentile(values, 0.95)).toBe(50);
    expect(percentile(values, 0.2)).toBe(10);
    expect(percentile(values, 1)).toBe(50);
  });

  test('a rank that lands on a job never found is null, not a number', () => {
    expect(percentile([1, 2, 3, Infinity], 0.5)).toBe(2);
    expect(percentile([1, 2, 3, Infinity], 0.95)).toBeNull();
    expect(percentile([], 0.5)).toBeNull();
  });
});

describe('latencySummary', () => {
  test('counts the jobs not found and reports seconds', () => {
    const s = latencySummary([1_000, 2_500, undefined, 12_340]);
    expect(s).toEqual({ jobs: 4, found: 3, p50_s: 2.5, p95_s: null, p99_s: null, max_s: null });
  });

  test('all found', () => {
    expect(latencySummary([3_000]).p99_s).toBe(3);
  });
});

describe('per-minute peaks', () => {
  test('sliding: the most requests in any half-open 60 s', () => {
    // [0, 60 s) holds 3 and [1 s, 61 s) holds 3; [59.9 s, 119.9 s) holds 59.9, 60, 61 and 100 s: 4.
    expect(slidingMinutePeak([0, 1_000, 59_900, 60_000, 61_000, 100_000])).toBe(4);
    expect(slidingMinutePeak([0, 1_000, 59_999, 60_000])).toBe(3);
    expect(slidingMinutePeak([0, 60_000, 120_000])).toBe(1);
    expect(slidingMinutePeak([])).toBe(0);
  });

  test('per window minute: buckets from the start, requests outside the window ignored', () => {
    expect(perMinuteCounts([999, 1_000, 30_000, 61_000, 121_000, 181_000], 1_000, 181_000)).toEqual([2, 1, 1]);
  });
});

describe('summariseRequests', () => {
  test('counted leaves out 304s and /rate_limit; broker traffic is not the poller', () => {
    const hour = 3_600_000;
    const events = [
      { at: 0, route: 'GET /orgs/{org}/repos', status: 200 },
      { at: 10, route: 'GET /repos/{owner}/{repo}/actions/runs', status: 304 },
      { at: 20, route: 'GET /rate_limit', status: 200 },
      { at: 30, route: 'GET /repos/{owner}/{repo}/actions/runs', status: 403 },
      { at: 40, route: 'GET /_sim/broker/sessions/{session}/message', status: 200 },
      { at: 50, route: 'POST /app/installations/{installation_id}/access_tokens', status: 201 },
      { at: hour, route: 'GET /orgs/{org}/repos', status: 200 }, // after the window
    ];
    const s = summariseRequests(events, 0, hour);
    expect(s).toMatchObject({ total: 4, not_modified: 1, counted: 2, refused: 1, total_per_hour: 4, counted_per_hour: 2, first_refusal_s: 0 });
    expect(s.by_route).toEqual({ 'GET /orgs/{org}/repos': 1, 'GET /repos/{owner}/{repo}/actions/runs': 2, 'GET /rate_limit': 1 });
  });

  test('ratio is null without a denominator', () => {
    expect(ratio(10, 4)).toBe(2.5);
    expect(ratio(10, 0)).toBeNull();
    expect(ratio(null, 3)).toBeNull();
  });
});
