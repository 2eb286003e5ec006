// End-to-end liveness of the real daemon in the simulated world: a dead Mac's leftover claim does
// not starve a job, a runner command that stays in the foreground is no failure, and a VM is
// bounded by its profile's timeout whatever phase it is in and even after its run log is deleted.
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { SimWorld } from '../../src/sim/world.js';
import { jobsDone, ourVms, scaledTimeout, waitFor } from './helpers.js';
import { jest } from '@jest/globals';

jest.setTimeout(scaledTimeout(150_000));

const worlds: SimWorld[] = [];
afterEach(async () => {
  await Promise.all(worlds.splice(0).map((w) => w.destroy()));
});

async function newWorld(opts: Parameters<typeof SimWorld.create>[0]): Promise<SimWorld> {
  const w = await SimWorld.create(opts);
  worlds.push(w);
  return w;
}

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
  // 50 real seconds each: far longer than a tick, so GitHub shows the runners online long before
  // their commands (which last as long as the jobs) end.
  const ids = [world.queue('coder', { durationS: 2000 }), world.queue('coder', { durationS: 2000 })];
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
