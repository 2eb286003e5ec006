// End-to-end fault scenarios: crashes, GitHub outages and rate limits, planted orphans.
import { execFileSync } from 'node:child_process';
import { SimWorld } from '../../src/sim/world.js';
import { expectRanOnceOnProfile, jobsDone, ourVms, scaledTimeout, waitFor } from './helpers.js';
import { jest } from '@jest/globals';

jest.setTimeout(scaledTimeout(150_000));

let world: SimWorld;
afterEach(async () => {
  await world?.destroy();
});

function tart(args: string[]): string {
  return execFileSync(world.tartBin, args, { env: { ...process.env, ...world.simEnv() }, encoding: 'utf8' });
}

test("orphans planted before start are cleaned up; VMs that are not ours are untouched", async () => {
  world = await SimWorld.create({ speed: 40 });
  // Ours: a stopped leftover VM, and a runner claimed by this Mac whose VM never existed.
  tart(['clone', 'workhorse', 'tf-sim-mac-coder-999']);
  const orphanRunner = world.github.world.createRunner('tf-coder-998', ['self-hosted', 'coder', 'tf-host-sim-mac'], 1, 'orphan-secret');
  // Not ours: another Mac's name, an operator's own VM (running), and another Mac's runner.
  tart(['clone', 'workhorse', 'tf-other-mac-coder-1']);
  tart(['clone', 'workhorse', 'my-own-vm']);
  const foreignRunner = world.github.world.createRunner('tf-coder-997', ['self-hosted', 'coder', 'tf-host-other-mac'], 1, 'other-secret');

  world.startDaemon();
  await waitFor('our orphans gone', async () => !(await ourVms(world)).includes('tf-sim-mac-coder-999') && orphanRunner.deletedAt !== null, 20_000);
  const names = (await world.tartList()).map((v) => v.Name);
  expect(names).toEqual(expect.arrayContaining(['tf-other-mac-coder-1', 'my-own-vm', 'workhorse']));
  expect(foreignRunner.deletedAt).toBeNull();
});

test('kill -9 of the daemon mid-creation, then a restart: the job still runs exactly once and nothing leaks', async () => {
  world = await SimWorld.create({ speed: 40, bootSeconds: 60 });
  const id = world.queue('coder', { durationS: 20 });
  const daemon = world.startDaemon();
  await waitFor('the VM is started', () => world.tartEvents().some((e) => e.event === 'run-start'), 20_000, 20);
  daemon.kill('SIGKILL');
  await new Promise((r) => daemon.once('exit', r));
  world.startDaemon();
  await waitFor('job done, VMs gone, runners gone', async () => jobsDone(world, [id]) && (await ourVms(world)).length === 0 && world.github.runners().every((r) => r.deletedAt !== null), 60_000);
  expectRanOnceOnProfile(world, [id]);
});

test('a GitHub outage (502) while jobs run: running VMs are kept, jobs finish, cleanup resumes after', async () => {
  world = await SimWorld.create({ speed: 40 });
  const ids = [world.queue('coder', { durationS: 400 }), world.queue('coder', { durationS: 400 })];
  world.startDaemon();
  await waitFor('both jobs running', () => ids.every((id) => world.github.job(id).status === 'in_progress'), 30_000);
  world.github.setOutage(true);
  const before = world.tartEvents().length;
  const runningAtStart = await ourVms(world);
  // Two whole ticks that could not read GitHub (not a fixed sleep: a daemon backing off may not tick at all).
  const unreadTicks = () => world.logLines().filter((l) => l.msg === 'tick done' && l.ok === false).length;
  const unreadBefore = unreadTicks();
  // Each such tick waits out plugin-retry's retries (seconds), and the loop backs off between them.
  await waitFor('two ticks without GitHub', () => unreadTicks() >= unreadBefore + 2, 90_000);
  // Every GitHub call fails (after plugin-retry's retries). The daemon stops nothing; it deletes only a
  // VM whose guest powered off by itself (its job ended: a fact from tart, not from GitHub); every
  // other VM that was running is still there.
  const during = world.tartEvents().slice(before);
  const exited = new Set(during.filter((e) => e.event === 'run-exit').map((e) => e.vm));
  expect(during.filter((e) => e.event === 'stop')).toEqual([]);
  expect(during.filter((e) => e.event === 'delete' && !exited.has(e.vm))).toEqual([]);
  const still = new Set(await ourVms(world));
  expect(runningAtStart.filter((name) => !exited.has(name) && !still.has(name))).toEqual([]);
  world.github.setOutage(false);
  await waitFor('done and clean', async () => jobsDone(world, ids) && (await ourVms(world)).length === 0, 60_000);
  expectRanOnceOnProfile(world, ids);
});

test('primary rate limit exhausted: the daemon waits it out, deletes nothing, then carries on', async () => {
  world = await SimWorld.create({ speed: 40 });
  world.github.exhaustRateLimit({ resetInSeconds: 3 });
  const id = world.queue('coder', { durationS: 20 });
  world.startDaemon();
  await waitFor('done and clean', async () => jobsDone(world, [id]) && (await ourVms(world)).length === 0, 40_000);
  expectRanOnceOnProfile(world, [id]);
  expect(world.daemon?.exitCode).toBeNull();
});
