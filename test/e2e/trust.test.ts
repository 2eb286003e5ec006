// End-to-end trust tiers: an untrusted profile (strangers' pull requests) runs in its own runner
// group, on Softnet, with a read-only cache of its own, while a trusted profile shares its cache
// read-write; nothing the untrusted job writes reaches the trusted tier.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SimWorld } from '../../src/sim/world.js';
import { jobsDone, ourVms, scaledTimeout, waitFor } from './helpers.js';
import { jest } from '@jest/globals';

jest.setTimeout(scaledTimeout(150_000));

const run = promisify(execFile);
let world: SimWorld;
afterEach(async () => {
  await world?.destroy();
});

test('an untrusted job runs in its own group, on Softnet, with a read-only cache it cannot write; the trusted job shares its cache read-write', async () => {
  world = await SimWorld.create({
    speed: 40,
    config: {
      profiles: {
        coder: { ram_mb: 4096, cpu: 2, timeout_minutes: 60 },
        pr: { ram_mb: 4096, cpu: 2, timeout_minutes: 30, trust: 'untrusted', runner_group_id: 2, cache: 'ro', cache_dir: 'pr-cache' },
      },
    },
  });
  // The safe layout: the Default group refuses public repositories; group 2 takes them, for the untrusted tier.
  world.github.addRunnerGroup({ id: 2, allowsPublicRepositories: true });
  world.github.addRepo('site', { private: false });
  mkdirSync(join(world.dir, 'pr-cache'), { recursive: true });
  const stranger = world.queue('pr', { repo: 'site', durationS: 600 }); // 15 real seconds
  const trusted = world.queue('coder', { durationS: 20 });
  world.startDaemon();

  await waitFor('the untrusted job runs', () => world.github.job(stranger).status === 'in_progress', 60_000);
  const prVm = (await ourVms(world)).find((n) => n.includes('-pr-'))!;
  const shares = JSON.parse(readFileSync(join(world.tartHome, 'vms', prVm, 'sim-shares.json'), 'utf8')) as Array<{ hostPath: string; readOnly: boolean }>;
  expect(shares).toEqual([expect.objectContaining({ hostPath: join(world.dir, 'pr-cache'), readOnly: true })]);
  // A root job in the guest tries to plant something for later jobs: the share refuses the write.
  const plant = await run(world.tartBin, ['exec', prVm, 'touch', '/Volumes/My Shared Files/cache/planted'], { env: { ...process.env, ...world.simEnv() } }).then(() => 'written', (err: { stderr?: string }) => String(err.stderr));
  expect(plant).toMatch(/Read-only file system/);
  expect(existsSync(join(world.dir, 'pr-cache', 'planted'))).toBe(false);

  await waitFor('both jobs done and clean', async () => jobsDone(world, [stranger, trusted]) && (await ourVms(world)).length === 0, 90_000);
  const runs = world.tartEvents().filter((e) => e.event === 'run-start');
  const softnet = (e: (typeof runs)[number]) => Array.isArray(e.argv) && e.argv.includes('--net-softnet');
  expect(runs.map((e) => [e.vm.includes('-pr-') ? 'pr' : 'coder', softnet(e)]).sort()).toEqual([['coder', false], ['pr', true]]);
  // The trusted VM shares the trusted cache read-write.
  const coderRun = runs.find((e) => !e.vm.includes('-pr-'));
  expect(coderRun?.shares).toEqual([expect.objectContaining({ hostPath: join(world.dir, 'cache'), readOnly: false })]);
  // Each tier's runner was created in its own group.
  const groups = Object.fromEntries([...world.github.world.runners.values()].map((r) => [r.labels.includes('pr') ? 'pr' : 'coder', r.groupId]));
  expect(groups).toEqual({ pr: 2, coder: 1 });
});
