import { nextDelayMs, runLoop } from '../../src/daemon/loop.js';
import { memoryLogger } from '../../src/core/logger.js';

describe('nextDelayMs', () => {
  test('a healthy tick waits poll_seconds, jittered by ±10 %', () => {
    expect(nextDelayMs(15, 0, 0, 0)).toBe(13_500);
    expect(nextDelayMs(15, 0, 0, 0.5)).toBe(15_000);
    expect(nextDelayMs(15, 0, 0, 0.999999)).toBe(16_500);
  });
  test('failed ticks back off exponentially, capped at 5 minutes', () => {
    expect(nextDelayMs(15, 1, 0, 0.5)).toBe(30_000);
    expect(nextDelayMs(15, 3, 0, 0.5)).toBe(120_000);
    expect(nextDelayMs(15, 10, 0, 0.5)).toBe(300_000);
  });
  test('after a tick that deleted VMs the next one comes at once (their RAM is free now)', () => {
    expect(nextDelayMs(15, 0, 2, 0.5)).toBe(1000);
    expect(nextDelayMs(15, 1, 2, 0.5)).toBe(30_000); // but not while failing
  });
});

test('runLoop finishes the tick in flight when aborted, then returns', async () => {
  const stop = new AbortController();
  const sleeps: number[] = [];
  let ticks = 0;
  const report = (ok: boolean) => ({ ok, deletedVms: 0 });
  await runLoop({
    tick: async () => {
      ticks += 1;
      if (ticks === 3) stop.abort(); // a signal arrives during the third tick
      return report(ticks !== 2);
    },
    pollSeconds: 10,
    clock: { now: () => 0, sleep: async (ms) => void sleeps.push(ms) },
    logger: memoryLogger(),
    signal: stop.signal,
    random: () => 0.5,
  });
  expect(ticks).toBe(3);
  expect(sleeps).toEqual([10_000, 20_000]);
});

test('onTick gets every report with the delay before the next tick, also for the tick in flight at a stop; a throwing hook is logged, not fatal', async () => {
  const stop = new AbortController();
  const seen: Array<[number, number]> = [];
  let ticks = 0;
  const logger = memoryLogger();
  await runLoop({
    tick: async () => {
      ticks += 1;
      if (ticks === 3) stop.abort();
      return { ok: ticks !== 2, deletedVms: 0, tick: ticks };
    },
    onTick: (report, next) => {
      seen.push([report.tick, next]);
      if (report.tick === 1) throw new Error('disk full');
    },
    pollSeconds: 10,
    clock: { now: () => 0, sleep: async () => undefined },
    logger,
    signal: stop.signal,
    random: () => 0.5,
  });
  expect(seen).toEqual([[1, 10_000], [2, 20_000], [3, 10_000]]);
  expect(logger.entries).toEqual(expect.arrayContaining([expect.objectContaining({ msg: 'after-tick hook failed', ctx: expect.objectContaining({ error: 'disk full' }) })]));
});

test('the event feed wakes the sleep between ticks at once; a wake during a tick ends the next sleep', async () => {
  const { Wake } = await import('../../src/daemon/feed-loop.js');
  const { systemClock } = await import('../../src/adapters/clock.js');
  const stop = new AbortController();
  const wake = new Wake();
  const starts: number[] = [];
  let ticks = 0;
  const t0 = Date.now();
  const done = runLoop({
    tick: async () => {
      ticks += 1;
      starts.push(Date.now() - t0);
      if (ticks === 2) wake.wake(); // a hint arrives while tick 2 runs
      return { ok: true, deletedVms: 0 };
    },
    pollSeconds: 3600,
    clock: systemClock,
    logger: memoryLogger(),
    signal: stop.signal,
    random: () => 0.5,
    wake,
  });
  // Tick 1 is done and the loop sleeps an hour: the feed's wake starts tick 2 now.
  while (ticks < 1) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 20));
  wake.wake();
  // Tick 3 comes at once too: the wake during tick 2 was kept for the sleep after it.
  while (ticks < 3) await new Promise((r) => setTimeout(r, 5));
  stop.abort();
  await done;
  expect(ticks).toBe(3);
  expect(starts[2]! - starts[0]!).toBeLessThan(60_000);
});
