// End-to-end liveness of the real daemon in the simulated world: a dead Mac's leftover claim does
// not starve a job, and a runner command that stays in the foreground is no failure (bounds.test.ts
// has the timeouts).
import { jobsDone, ourVms, scaledTimeout, waitFor, worldsDestroyedAfterEach } from './helpers.js';
import { jest } from '@jest/globals';

jest.setTimeout(scaledTimeout(150_000));

const newWorld = worldsDestroyedAfterEach();

test("another Mac's claim that never connected: the job runs here after a boot's time, and that Mac's runner is left alone", async () => {
  const world = await newWorld({ speed: 40, config: { vm: { boot_timeout_seconds: 6 } } });
  const id = world.queue('coder', { durationS: 20 });
  // A Mac that claimed the job and died before booting: its runner is registered, never connected.
  const dead = world.github.world.createRunner(`tf-coder-${id}`, ['self-hosted', 'coder', 'tf-host-dead-mac'], 1, 'dead-mac-secret');
  world.startDaemon();
  await waitFor('the job ran on this Mac', () => jobsDone(world, [id]), 60_000);
  expect(world.github.job(id).runnerName).toBe(`tf-coder-${id}-2`);
  expect(dead.deletedAt).toBeNull();
  const reasons = world.logLines().filter((l) => l.msg === 'admitting job').map((l) => String(l.reason));
  expect(reasons).toEqual([expect.stringMatching(/another Mac's claim tf-coder-\d+ never connected within the boot timeout; serving it here/)]);
});

test('a runner command that stays in the foreground: the runner counts as started while its job runs, and nothing is failed', async () => {
  const world = await newWorld({ speed: 40, simEnv: { TART_SIM_RUNNER_FOREGROUND: '1' } });
  // 15 real seconds each: far longer than a tick (1 s), so GitHub shows the runners online long
  // before their commands (which last as long as the jobs) end.
  const ids = [world.queue('coder', { durationS: 600 }), world.queue('coder', { durationS: 600 })];
  world.startDaemon();
  const started = () => world.logLines().filter((l) => l.msg === 'runner started in the VM');
  await waitFor('both runners counted as started', () => started().length === 2, 60_000);
  expect(ids.map((id) => world.github.job(id).status)).toEqual(['in_progress', 'in_progress']);
  expect(started().map((l) => l.how)).toEqual(['online', 'online']);
  await waitFor('both jobs done and clean', async () => jobsDone(world, ids) && (await ourVms(world)).length === 0, 120_000);
  expect(world.tartEvents().filter((e) => e.event === 'clone')).toHaveLength(2);
  const trouble = world.logLines().filter((l) => l.level === 'error' || /boot failed|creation failed/.test(String(l.msg)));
  expect(trouble).toEqual([]);
});
