// End-to-end: the real CLI (`node bin/tart-fleet.js run`) against the simulated world.
import { readFileSync } from 'node:fs';
import { SimWorld, peakUsage } from '../../src/sim/world.js';
import { allCommandLines, expectNoSecretsIn, tartChildEnvironments, expectRanOnceOnProfile, jobsDone, ourVms, secretsOf, scaledTimeout, waitFor } from './helpers.js';
import { jest } from '@jest/globals';

jest.setTimeout(scaledTimeout(150_000));

let world: SimWorld;
afterEach(async () => {
  await world?.destroy();
});

test("a realistic mix: every job runs once on its profile's VM, within the RAM ceiling and the VM cap, secrets never leak, nothing is left", async () => {
  world = await SimWorld.create({ speed: 40 });
  const ids = [
    world.queue('developer', { durationS: 40 }),
    world.queue('marketer', { durationS: 30 }),
    world.queue('coder', { durationS: 20 }),
    world.queue('coder', { durationS: 20 }),
    world.queue('marketer', { durationS: 20 }),
    world.queue('coder', { durationS: 30 }),
  ];
  const ignored = [
    world.queue(['self-hosted', 'gpu'], { name: 'no profile matches' }),
    world.queue(['ubuntu-latest'], { name: 'GitHub-hosted' }),
    world.queue('coder', { status: 'waiting', name: 'waiting for approval' }),
  ];
  world.startDaemon();
  const argvSamples: string[] = [];
  const tartEnvSamples: string[] = [];
  await waitFor('all jobs done and all VMs gone', async () => {
    argvSamples.push(...allCommandLines());
    tartEnvSamples.push(...tartChildEnvironments());
    return jobsDone(world, ids) && (await ourVms(world)).length === 0;
  }, 60_000, 200);

  expectRanOnceOnProfile(world, ids);
  for (const id of ignored) expect(world.github.job(id).history.some((h) => h.status === 'in_progress')).toBe(false);
  const { ramMb, vms, macosVms } = peakUsage(world.tartEvents());
  expect(ramMb).toBeLessThanOrEqual(12288);
  // max_vms binds macOS guests: every shipped profile is one.
  expect(macosVms).toBeLessThanOrEqual(2);
  expect(vms).toBeGreaterThanOrEqual(2);
  expect(world.github.runners().filter((r) => r.deletedAt === null)).toEqual([]);

  const ls = await world.ls();
  expect((ls.queue ?? []).map((q) => q.reason)).toEqual(['no profile matches [self-hosted, gpu]']);
  expect(await world.stopDaemon()).toBe(0);
  const log = readFileSync(world.daemonLog, 'utf8');
  expectNoSecretsIn([log, ...argvSamples, ...tartEnvSamples], secretsOf(world));
  // The samples did catch tart children (running VMs live as `tart run` processes), with their environment.
  expect(tartEnvSamples.some((e) => e.includes('TART_HOME='))).toBe(true);
  expect(tartEnvSamples.some((e) => /^TART_FLEET_/m.test(e))).toBe(false);
});

test("the shipped packing: developer + marketer never run together, developer + coder do (the whole 12288 MB ceiling)", async () => {
  // A cap of three macOS guests (the fake's VZ limit raised to match), so that RAM, not Apple's
  // two-VM cap, is what keeps developer and marketer apart.
  world = await SimWorld.create({ speed: 40, config: { host: { max_vms: 3 } }, simEnv: { TART_SIM_MAX_RUNNING: '3' } });
  const first = [world.queue('developer', { durationS: 40 }), world.queue('marketer', { durationS: 20 })];
  world.startDaemon();
  await waitFor('developer and marketer done', () => jobsDone(world, first), 40_000);
  const dev = world.github.job(first[0]!);
  const mkt = world.github.job(first[1]!);
  const devEnd = dev.history.find((h) => h.status === 'completed')!.at;
  const mktStart = mkt.history.find((h) => h.status === 'in_progress')!.at;
  expect(mktStart).toBeGreaterThanOrEqual(devEnd);

  const second = [world.queue('developer', { durationS: 400 }), world.queue('coder', { durationS: 400 })];
  await waitFor('developer + coder running at once', () => second.every((id) => world.github.job(id).status === 'in_progress'), 30_000);
  await waitFor('all done, all VMs gone', async () => jobsDone(world, second) && (await ourVms(world)).length === 0, 40_000);
  expect(peakUsage(world.tartEvents()).ramMb).toBe(12288);
});
