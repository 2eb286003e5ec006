// How often the daemon walks a cache dir to measure it: at start, after a VM that wrote to it is
// gone (not every tick, not for a VM that could not write to it), and hourly; and since when it has
// been over the cap.
import { CacheKeeper } from '../../src/daemon/cache-keeper.js';
import type { CacheTool } from '../../src/core/ports.js';
import { memoryLogger } from '../../src/core/logger.js';
import type { Clock } from '../../src/core/ports.js';
import { NOW, seedConfig } from '../core/world.js';

const MIN = 60_000;

function keeper(sizes: number[]) {
  let now = NOW;
  const measured: string[] = [];
  const tool: CacheTool = {
    measure: (dir) => {
      measured.push(dir);
      return Promise.resolve(sizes.shift() ?? 0);
    },
    prune: () => Promise.reject(new Error('not in this test')),
  };
  const clock: Clock = { now: () => now, sleep: () => Promise.resolve() };
  const config = seedConfig({
    host: { cache_max_gb: 10, cache_dir: '/srv/cache' },
    profiles: {
      coder: { ram_mb: 2048, cpu: 2, timeout_minutes: 60 },
      reader: { ram_mb: 2048, cpu: 2, timeout_minutes: 60, cache: 'ro' },
      bare: { ram_mb: 2048, cpu: 2, timeout_minutes: 60, cache: 'none', cache_dir: '/srv/other' },
    },
  });
  const k = new CacheKeeper({ config, tool, clock, logger: memoryLogger() });
  const tick = async (advanceMs: number) => {
    now += advanceMs;
    k.startDue();
    await k.drain();
  };
  return { k, measured, tick, at: () => now };
}

test('measured at start, then only after a VM that wrote to it is gone (5 min on) or hourly', async () => {
  const { k, measured, tick } = keeper([11e9, 12e9, 12e9, 12e9]);
  await tick(0);
  expect(measured).toEqual(['/srv/cache']); // the cache: none profile's dir is not watched
  expect(k.snapshot()).toEqual([expect.objectContaining({ dir: '/srv/cache', bytes: 11e9, overCapSince: NOW, busy: undefined })]);
  for (let i = 0; i < 10; i++) await tick(30_000);
  expect(measured).toHaveLength(1); // not every tick

  k.vmGone('reader'); // read-only: cannot have grown it
  await tick(6 * MIN);
  expect(measured).toHaveLength(1);
  k.vmGone('coder');
  await tick(1 * MIN);
  expect(measured).toHaveLength(2);
  // Still over the cap: over since the first measurement that said so.
  expect(k.snapshot()[0]).toMatchObject({ bytes: 12e9, overCapSince: NOW });
  await tick(61 * MIN);
  expect(measured).toHaveLength(3);
});

test('back under the cap clears overCapSince', async () => {
  const { k, tick } = keeper([11e9, 5e9]);
  await tick(0);
  expect(k.snapshot()[0]?.overCapSince).toBe(NOW);
  await tick(61 * MIN);
  expect(k.snapshot()[0]).toMatchObject({ bytes: 5e9, overCapSince: undefined });
});

test('without host.cache_max_gb nothing is measured', async () => {
  const tool: CacheTool = { measure: () => Promise.reject(new Error('must not run')), prune: () => Promise.reject(new Error('must not run')) };
  const k = new CacheKeeper({ config: seedConfig(), tool, clock: { now: () => NOW, sleep: () => Promise.resolve() }, logger: memoryLogger() });
  k.startDue();
  await k.drain();
  expect(k.snapshot()).toEqual([]);
});
