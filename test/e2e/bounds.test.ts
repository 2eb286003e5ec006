// End-to-end bounds of the real daemon in the simulated world: a VM is bounded by its profile's
// timeout even after its run log is deleted, and a runner that goes offline to update itself is
// not taken for lost.
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { jobsDone, ourVms, scaledTimeout, waitFor, worldsDestroyedAfterEach } from './helpers.js';
import { jest } from '@jest/globals';

jest.setTimeout(scaledTimeout(150_000));

const newWorld = worldsDestroyedAfterEach();

test('a job past its timeout in a VM whose run log was deleted is still stopped and deleted', async () => {
  const world = await newWorld({
    speed: 40,
    simEnv: { TART_SIM_JOB_HANG: '1', TART_SIM_RUNNER_FOREGROUND: '1' },
    config: { profiles: { coder: { ram_mb: 2048, cpu: 2, timeout_minutes: 0.25, os: 'linux', image: 'workhorse-linux' } } },
  });
  const id = world.queue('coder');
  world.startDaemon();
  await waitFor('the job is running', () => world.github.job(id).status === 'in_progress', 40_000);
  const [vm] = await ourVms(world);
  const runLog = join(world.dir, 'vm-logs', `${vm}.log`);
  expect(existsSync(runLog)).toBe(true);
  rmSync(runLog); // an operator cleaning logs must not make a running VM immortal
  await waitFor('the VM is gone after its timeout', async () => (await ourVms(world)).length === 0, 60_000);
  expect(world.logLines().some((l) => typeof l.reason === 'string' && l.reason.includes("past its profile's timeout"))).toBe(true);
});

test('an outdated runner that updates itself on boot (offline for a while) is not taken for lost: one VM, the job runs once', async () => {
  const world = await newWorld({ speed: 40, simEnv: { TART_SIM_RUNNER_UPDATE_OFFLINE_MS: '4000', TART_SIM_RUNNER_UPDATE_DOWNLOAD_MS: '500' } });
  world.github.setLatestRunnerVersion('2.337.0');
  const id = world.queue('coder', { durationS: 40 });
  world.startDaemon();
  await waitFor('the job ran and everything is clean', async () => jobsDone(world, [id]) && (await ourVms(world)).length === 0, 90_000);
  expect(world.tartEvents().filter((e) => e.event === 'clone')).toHaveLength(1);
  expect(world.logLines().filter((l) => typeof l.reason === 'string' && l.reason.includes('offline'))).toEqual([]);
});
