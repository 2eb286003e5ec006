// host.cache_max_gb end to end at the reconciler: the real daemon tick over the in-memory world, with
// the real measuring and pruning child processes (`tart-fleet cache prune`, from dist/) on a real
// directory. The cache is pruned between jobs, and never while a VM that mounts it runs.
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDaemon } from '../../src/cli/wiring.js';
import type { TickReport } from '../../src/daemon/report.js';
import { memoryLogger } from '../../src/core/logger.js';
import { HostMemory, VolatileStore } from '../../src/daemon/host-memory.js';
import { MemoryWorld } from './memory-world.js';
import { seedConfig } from '../core/world.js';

const FILES = 10;
const CAP_GB = 0.0005; // 500 kB; the cache holds 1 MB

let dir: string;
let cache: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tf-cache-cap-'));
  cache = join(dir, 'cache');
  mkdirSync(cache);
  const now = Date.now() / 1000;
  for (let i = 0; i < FILES; i++) {
    writeFileSync(join(cache, `f${i}.bin`), Buffer.alloc(100_000, 1));
    const used = now - (FILES - i) * 86_400; // f0 least recently used
    utimesSync(join(cache, `f${i}.bin`), used, used);
  }
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const allocated = () => readdirSync(cache).reduce((sum, f) => sum + lstatSync(join(cache, f)).blocks * 512, lstatSync(cache).blocks * 512);

/** One Mac whose only cache dir is `cache`, capped at CAP_GB, with the real reconciler. */
function capScene() {
  const world = new MemoryWorld();
  const config = seedConfig({ host: { cache_max_gb: CAP_GB, cache_dir: cache, log_dir: join(dir, 'logs'), state_dir: join(dir, 'state') } });
  const session = world.session('mac-a');
  const logger = memoryLogger();
  const reconciler = buildDaemon(
    config,
    { github: session.github(), tart: session.tart(), guest: session.guest(), clock: session.clock(), logger },
    { memory: new HostMemory(world.now, new VolatileStore(), logger) },
  );
  return { world, logger, reconciler };
}

test('over the cap while a VM mounts the cache: it waits (and says so); once the VM is gone it is pruned, least recently used first', async () => {
  const { world, logger, reconciler } = capScene();
  const reports: TickReport[] = [];
  const tick = async () => {
    reports.push(await reconciler.tick());
    await reconciler.drain(); // creations, and the measuring or pruning child
    world.now += 30_000;
  };

  world.queue('coder', 600);
  await tick(); // admits the job (size not known yet) and starts measuring
  expect(world.ourVms('mac-a').map((v) => v.state)).toEqual(['running']);
  await tick(); // measured over the cap, but the VM mounts it
  const waiting = reports.at(-1)!;
  expect(waiting.world.caches?.[0]?.bytes).toBeGreaterThan(CAP_GB * 1e9);
  expect(waiting.plan.actions.filter((a) => a.kind === 'prune-cache')).toEqual([]);
  expect(waiting.plan.blocked.join('\n')).toMatch(/^cache .* over host\.cache_max_gb \(0\.0005 GB\): pruned between jobs, once the 1 VM\(s\) mounting it are gone$/m);
  expect(readdirSync(cache)).toHaveLength(FILES);

  world.finishRunningJobs();
  for (let i = 0; i < 20 && (world.ourVms('mac-a').length > 0 || allocated() > CAP_GB * 1e9); i++) await tick();

  expect(world.ourVms('mac-a')).toEqual([]);
  expect(allocated()).toBeLessThanOrEqual(CAP_GB * 1e9);
  const kept = readdirSync(cache).sort();
  expect(kept.length).toBeGreaterThan(0);
  // Least recently used first: what is left is the most recently used files.
  expect(kept).toEqual(Array.from({ length: FILES }, (_, i) => `f${i}.bin`).slice(FILES - kept.length).sort());
  // Every prune was planned in a tick where no VM of ours was running (so none had it mounted).
  const pruneTicks = reports.filter((r) => r.plan.actions.some((a) => a.kind === 'prune-cache'));
  expect(pruneTicks).toHaveLength(1);
  for (const r of pruneTicks) {
    expect(r.world.tart.ok && r.world.tart.value.ours.every((v) => v.state !== 'running')).toBe(true);
  }
  expect(logger.entries.some((e) => e.msg === 'pruned cache' && e.ctx.dir === cache)).toBe(true);
});

test('a job queued while the cache is pruned waits for the prune, then runs', async () => {
  const { world, reconciler } = capScene();
  await reconciler.tick(); // starts measuring
  await reconciler.drain();
  world.queue('coder', 60);
  // Over the cap and nothing mounts it: this tick prunes, so the job waits rather than mount a cache being pruned.
  const pruning = await reconciler.tick();
  expect(pruning.plan.actions.map((a) => a.kind)).toEqual(['prune-cache']);
  expect(pruning.plan.queue[0]?.reason).toMatch(/^cache .* is being pruned to stay under host\.cache_max_gb/);
  await reconciler.drain();
  expect(allocated()).toBeLessThanOrEqual(CAP_GB * 1e9);
  const after = await reconciler.tick();
  expect(after.plan.actions.map((a) => a.kind)).toEqual(['create']);
  await reconciler.drain();
});
