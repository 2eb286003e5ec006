// End-to-end (audit B1): a run held `waiting` by one job's environment approval still has a queued
// job, and the daemon runs it; the waiting job is left alone until it is approved, then runs too.
import { expectRanOnceOnProfile, jobsDone, ourVms, waitFor, worldsDestroyedAfterEach } from './helpers.js';
import { jest } from '@jest/globals';

jest.setTimeout(90_000);

const newWorld = worldsDestroyedAfterEach();

test('a waiting run: its queued job runs, the waiting one only after approval', async () => {
  const world = await newWorld({ speed: 40 });
  const labels = ['self-hosted', 'coder'];
  const staging = world.github.queueJob({ repo: 'app', labels, name: 'deploy (staging)', durationMs: 20_000 });
  const prod = world.github.queueJob({ repo: 'app', labels, name: 'deploy (production)', status: 'waiting', durationMs: 20_000, runId: staging.runId });
  expect(world.github.world.runStatus(world.github.world.runs.get(staging.runId)!).status).toBe('waiting');
  world.startDaemon();

  await waitFor('the queued job of the waiting run done', () => jobsDone(world, [staging.jobId]), 60_000, 200);
  expect(world.github.job(prod.jobId).history.some((h) => h.status === 'in_progress')).toBe(false);

  world.github.approveJob(prod.jobId);
  await waitFor('the approved job done and no VM left', async () => jobsDone(world, [prod.jobId]) && (await ourVms(world)).length === 0, 60_000, 200);
  expectRanOnceOnProfile(world, [staging.jobId, prod.jobId]);
  expect(await world.stopDaemon()).toBe(0);
});
