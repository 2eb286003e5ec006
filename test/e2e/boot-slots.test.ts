// End to end: a burst of jobs on a simulated Mac with RAM for hundreds of Linux VMs boots at most
// `host.max_concurrent_boots` VMs at once, and every job still runs once on one VM. Unbounded, the
// bench's burst of 120 jobs had ~80 creations in flight on a loaded machine, boots timed out and were
// retried on fresh clones: 243 clones for 26 jobs run (issue #21).
import { jobsDone, expectRanOnceOnProfile, ourVms, scaledTimeout, waitFor, worldsDestroyedAfterEach } from './helpers.js';
import { jest } from '@jest/globals';

jest.setTimeout(scaledTimeout(150_000));

const newWorld = worldsDestroyedAfterEach();

/** The most creations under way at once, replayed from the daemon's own log (one process, in order). */
function peakCreations(lines: Array<Record<string, unknown>>): number {
  let now = 0;
  let peak = 0;
  for (const l of lines) {
    if (l.msg === 'claimed job with a JIT runner') now += 1;
    if (l.msg === 'runner started in the VM') now -= 1;
    peak = Math.max(peak, now);
  }
  return peak;
}

test('a burst of 6 jobs with max_concurrent_boots 2: never more than 2 creations at once, one VM per job, all run', async () => {
  const world = await newWorld({
    ramGb: 1024,
    speed: 20,
    // 3 s boots (60 s simulated): claims come at up to one a second, so without the cap they overlap.
    bootSeconds: 60,
    simEnv: { TART_SIM_MAX_RUNNING: '1000' },
    config: {
      host: { max_concurrent_boots: 2 },
      profiles: { worker: { ram_mb: 2048, cpu: 2, timeout_minutes: 60, os: 'linux', image: 'workhorse-linux' } },
    },
  });
  const ids = Array.from({ length: 6 }, () => world.queue('worker', { durationS: 20 }));
  world.startDaemon();
  await waitFor('ls shows jobs waiting for a boot slot', async () => {
    // Before the daemon's first tick there is no status snapshot for `ls` to read.
    const ls = await world.ls().catch(() => undefined);
    return (ls?.queue ?? []).some((q) => q.reason.includes('2/2 VMs being created (host.max_concurrent_boots)')) ?? false;
  }, 60_000, 500);
  await waitFor('every job ran and every VM is gone', async () => jobsDone(world, ids) && (await ourVms(world)).length === 0, 120_000);
  expectRanOnceOnProfile(world, ids);
  expect(world.tartEvents().filter((e) => e.event === 'clone')).toHaveLength(6);
  const lines = world.logLines();
  expect(lines.filter((l) => l.msg === 'runner started in the VM')).toHaveLength(6);
  expect(peakCreations(lines)).toBeLessThanOrEqual(2);
});
