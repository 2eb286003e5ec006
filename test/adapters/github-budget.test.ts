// The request budget on its own: a sliding window (never more than the limit in any 60 s), the
// sweep's share of it, and a back-off that is logged once per episode.
import { GitHubBackoffError, RequestBudget } from '../../src/adapters/github-budget.js';
import { memoryLogger, type LogEntry } from '../../src/core/logger.js';

function budget(perMinute: number) {
  const clock = { t: 1_000_000 };
  const entries: LogEntry[] = [];
  return { clock, entries, b: new RequestBudget(perMinute, () => clock.t, memoryLogger(entries)) };
}

test('a sliding window: requests older than 60 s no longer count', () => {
  const { clock, b } = budget(100);
  for (let i = 0; i < 30; i++) b.record();
  clock.t += 30_000;
  for (let i = 0; i < 20; i++) b.record();
  expect(b.lastMinute()).toBe(50);
  clock.t += 30_000; // the first 30 are exactly 60 s old now
  expect(b.lastMinute()).toBe(20);
});

test("the sweep's share: the time since its last call's worth of the budget less the reserve, never past the window", () => {
  const { b } = budget(300);
  expect(b.reserve).toBe(15);
  expect(b.allowance(15_000)).toEqual({ share: Math.ceil(285 / 4), hard: 300 });
  expect(b.allowance(120_000).share).toBe(285); // at most a minute's worth
  for (let i = 0; i < 280; i++) b.record();
  expect(b.allowance(15_000)).toEqual({ share: 5, hard: 20 });
  for (let i = 0; i < 30; i++) b.record();
  expect(b.allowance(15_000)).toEqual({ share: 0, hard: 0 });
});

test('a back-off refuses until its end, is logged once per episode, and a longer one extends it', () => {
  const { clock, entries, b } = budget(300);
  b.backOff(clock.t + 60_000, 'secondary rate limit');
  b.backOff(clock.t + 30_000, 'secondary rate limit'); // shorter: no change
  expect(() => b.throwIfBackingOff()).toThrow(GitHubBackoffError);
  b.backOff(clock.t + 90_000, 'secondary rate limit');
  expect(b.status()).toMatchObject({ backoffUntil: clock.t + 90_000, backoffs: 1 });
  expect(entries.filter((e) => e.msg === 'github asked us to slow down: backing off')).toHaveLength(1);
  clock.t += 90_000;
  expect(() => b.throwIfBackingOff()).not.toThrow();
  expect(b.status()).toMatchObject({ backoffUntil: null, backoffReason: null });
  b.backOff(clock.t + 1000, 'primary rate limit exhausted');
  expect(b.status().backoffs).toBe(2);
  expect(entries.filter((e) => e.msg === 'github asked us to slow down: backing off')).toHaveLength(2);
});

test('a budget that is not a whole number above 0 is refused, naming the key', () => {
  expect(() => budget(0)).toThrow(/max_requests_per_minute/);
});
