// End-to-end (issue #31): the daemon proves, from its own process, that it can boot each image and
// reach its guests, and acts on what it found. The simulated Mac's session context is set the way
// a macOS 15+ host under launchd would have it (src/sim/tart/vm-process.ts KEYCHAIN_LOCKED_TEXT,
// src/sim/guest/guest.ts TART_SIM_LOCAL_NETWORK).
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { jest } from '@jest/globals';
import { PACKAGE_ROOT } from '../../src/config/package.js';
import { LINUX_IMAGE, SEED_PROFILES, type SimWorld } from '../../src/sim/world.js';
import { jobsDone, ourVms, scaledTimeout, waitFor, worldsDestroyedAfterEach } from './helpers.js';

jest.setTimeout(scaledTimeout(120_000));

const newWorld = worldsDestroyedAfterEach();

interface ProofFile {
  images: Record<string, { status: string; ssh: string; exec: string; delivery: string | null; failure: { kind: string; fix: string } | null; warnings: string[]; profiles: Record<string, { reason: string; fix: string }> }>;
}

function proofOf(world: SimWorld): ProofFile | undefined {
  const file = join(world.dir, 'state', 'boot-proof.json');
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as ProofFile;
  } catch {
    return undefined;
  }
}

/**
 * The shipped profiles with coder on the Linux image: these scenarios need one image of each kind
 * (a Linux guest starts without a keychain and answers SSH like a macOS one).
 */
const PROFILES = { ...SEED_PROFILES, coder: { ...SEED_PROFILES.coder, ram_mb: 2048, os: 'linux', image: LINUX_IMAGE } };

const runnersNamed = (world: SimWorld, prefix: string) => [...world.github.world.runners.values()].filter((r) => r.name.startsWith(prefix));

test('no unlocked keychain: the proof says so, ls shows it, no job of the macOS image is claimed; the Linux image still runs jobs', async () => {
  const world = await newWorld({ speed: 20, simEnv: { TART_SIM_KEYCHAIN: 'locked' }, config: { host: { state_dir: 'state' }, vm: { boot_proof: true }, profiles: PROFILES } });
  const mac = world.queue('marketer', { durationS: 10 });
  const linux = world.queue('coder', { durationS: 10 });
  world.startDaemon();
  await waitFor('the macOS image failed its proof', () => proofOf(world)?.images.workhorse?.status === 'failed', 60_000);
  const proof = proofOf(world)!;
  expect(proof.images.workhorse!.failure).toMatchObject({ kind: 'keychain', fix: expect.stringMatching(/login keychain/) });
  await waitFor('the Linux job ran', () => jobsDone(world, [linux]), 60_000);
  expect(proofOf(world)!.images['workhorse-linux']).toMatchObject({ status: 'passed', delivery: 'ssh' });

  const ls = (await world.ls()) as unknown as { queue: Array<{ job_id: number; reason: string }>; boot_proof: ProofFile };
  expect(ls.boot_proof.images.workhorse!.failure!.kind).toBe('keychain');
  expect(ls.queue.find((q) => q.job_id === mac)?.reason).toMatch(/image workhorse failed its boot proof: keychain: .*VZErrorDomain Code=1.* — fix: /);
  // GitHub never saw a JIT runner for the macOS job: the broken Mac left it to others.
  expect(runnersNamed(world, 'tf-marketer-')).toEqual([]);
  expect(world.github.job(mac).status).toBe('queued');
  expect(world.tartEvents().filter((e) => e.event === 'clone' && e.vm.startsWith(`tf-${world.opts.runnerName}-marketer`))).toEqual([]);
  expect(world.logLines().some((l) => l.msg === 'boot proof failed: no job of this image is claimed' && l.kind === 'keychain')).toBe(true);
  // The proof's own VMs are gone.
  await waitFor('no proof VM left', async () => (await world.tartList()).every((v) => !v.Name.startsWith('tfproof-')), 20_000);

  // On demand: the running daemon runs the same proof again, in its own process, and answers.
  const asDaemon = await promisify(execFile)(process.execPath, [join(PACKAGE_ROOT, 'bin', 'tart-fleet.js'), 'selftest', '--as-daemon', '--config', world.configPath], { env: world.daemonEnv(), cwd: world.dir }).then(
    (r) => ({ code: 0, stdout: r.stdout }),
    (e: { code: number; stdout: string }) => ({ code: e.code, stdout: e.stdout }),
  );
  expect(asDaemon.code).toBe(1);
  expect(asDaemon.stdout).toMatch(new RegExp(`boot proof by daemon pid ${world.daemon!.pid}`));
  expect(asDaemon.stdout).toMatch(/! boot proof workhorse: FAILED, no job of this image is claimed: keychain/);
  expect(asDaemon.stdout).toMatch(/boot proof workhorse-linux: passed/);
  // `ls --live` (observing by itself) gates on the daemon's last proof too, so it tells the same story.
  const live = await promisify(execFile)(process.execPath, [join(PACKAGE_ROOT, 'bin', 'tart-fleet.js'), 'ls', '--live', '--json', '--config', world.configPath], { env: world.daemonEnv(), cwd: world.dir });
  const liveQueue = (JSON.parse(live.stdout) as { queue: Array<{ job_id: number; reason: string }> }).queue;
  expect(liveQueue.find((q) => q.job_id === mac)?.reason).toMatch(/^image workhorse failed its boot proof: keychain/);
  expect(runnersNamed(world, 'tf-marketer-')).toEqual([]);
});

test('local network blocked: the proof reports SSH blocked with the fix, and jobs still run through tart exec', async () => {
  const world = await newWorld({ speed: 20, simEnv: { TART_SIM_LOCAL_NETWORK: 'blocked' }, config: { host: { state_dir: 'state' }, vm: { boot_proof: true }, profiles: PROFILES } });
  const ids = [world.queue('marketer', { durationS: 10 }), world.queue('coder', { durationS: 10 })];
  world.startDaemon();
  await waitFor('both jobs ran and the VMs are gone', async () => jobsDone(world, ids) && (await ourVms(world)).length === 0, 90_000);
  const proof = proofOf(world)!;
  for (const image of ['workhorse', 'workhorse-linux']) {
    expect(proof.images[image]).toMatchObject({ status: 'passed', ssh: 'blocked', exec: 'ok', delivery: 'exec' });
    expect(proof.images[image]!.warnings.join(' ')).toMatch(/Local Network privacy.*AllowedEthernetLocalNetworkAddresses/);
  }
  expect(world.logLines().some((l) => l.msg === 'SSH to guests of this image is blocked (boot proof); delivering runners through tart exec')).toBe(true);
  // Delivered by exec: the daemon never logged an SSH connection to a job's guest.
  expect(world.logLines().filter((l) => l.msg === 'ssh connected')).toEqual([]);
});

test('local network blocked with vm.runner_delivery: ssh-only: the proof fails with the Local Network fix and nothing is claimed', async () => {
  const world = await newWorld({ speed: 20, simEnv: { TART_SIM_LOCAL_NETWORK: 'blocked' }, config: { host: { state_dir: 'state' }, vm: { boot_proof: true, runner_delivery: 'ssh-only' }, profiles: PROFILES } });
  const id = world.queue('coder', { durationS: 10 });
  world.startDaemon();
  await waitFor('the Linux image failed its proof', () => proofOf(world)?.images['workhorse-linux']?.status === 'failed', 60_000);
  expect(proofOf(world)!.images['workhorse-linux']!.failure).toMatchObject({ kind: 'local-network', fix: expect.stringMatching(/AllowedEthernetLocalNetworkAddresses/) });
  await waitFor('ls shows why the job waits', async () => /failed its boot proof: local-network/.test((await world.ls()).queue?.find((q) => q.job_id === id)?.reason ?? ''), 20_000);
  expect(runnersNamed(world, 'tf-coder-')).toEqual([]);
});

test('local network allowed: the proof passes over SSH and jobs run through node-ssh', async () => {
  const world = await newWorld({ speed: 20, config: { host: { state_dir: 'state' }, vm: { boot_proof: true }, profiles: PROFILES } });
  const ids = [world.queue('marketer', { durationS: 10 }), world.queue('coder', { durationS: 10 })];
  world.startDaemon();
  await waitFor('both jobs ran and the VMs are gone', async () => jobsDone(world, ids) && (await ourVms(world)).length === 0, 90_000);
  const proof = proofOf(world)!;
  for (const image of ['workhorse', 'workhorse-linux']) expect(proof.images[image]).toMatchObject({ status: 'passed', ssh: 'ok', delivery: 'ssh' });
  const sshToJobs = world.logLines().filter((l) => l.msg === 'ssh connected');
  expect(sshToJobs.length).toBeGreaterThanOrEqual(2);
  expect(world.logLines().some((l) => String(l.msg).includes('delivering runners through tart exec'))).toBe(false);
});

test("a profile below the macOS image's minimum fails alone: its jobs wait with tart's words and the fix, the image's other profiles run", async () => {
  const world = await newWorld({
    speed: 20,
    config: { vm: { boot_proof: true }, profiles: { coder: { ram_mb: 2048, cpu: 2, timeout_minutes: 60 }, marketer: { ram_mb: 5120, cpu: 4, timeout_minutes: 30 } } },
  });
  const small = world.queue('coder', { durationS: 10 });
  const fits = world.queue('marketer', { durationS: 10 });
  world.startDaemon();
  await waitFor('the marketer job ran', () => jobsDone(world, [fits]), 60_000);
  const proof = proofOf(world)!.images.workhorse!;
  expect(proof.status).toBe('passed');
  expect(proof.profiles.coder!.reason).toMatch(/ram_mb 2048.*LessThanMinimalResourcesError: VM should have 4294967296 bytes of memory at minimum/);
  await waitFor('ls shows why the coder job waits', async () => /^profile coder cannot boot image workhorse: .* — fix: raise the profile's ram_mb/.test((await world.ls()).queue?.find((q) => q.job_id === small)?.reason ?? ''), 20_000);
  expect(runnersNamed(world, 'tf-coder-')).toEqual([]);
});

test('Softnet without its SUID bit: the VM dies during the proof, the image fails with softnet and the fix, nothing is claimed', async () => {
  const world = await newWorld({
    speed: 20,
    simEnv: { TART_SIM_SOFTNET: 'no-suid' },
    config: { vm: { boot_proof: true }, profiles: { coder: { ram_mb: 2048, cpu: 2, timeout_minutes: 60, os: 'linux', image: 'workhorse-linux', network: 'softnet' } } },
  });
  const id = world.queue('coder', { durationS: 10 });
  world.startDaemon();
  await waitFor('the image failed its proof', () => proofOf(world)?.images['workhorse-linux']?.status === 'failed', 60_000);
  expect(proofOf(world)!.images['workhorse-linux']!.failure).toMatchObject({ kind: 'softnet', fix: expect.stringMatching(/chmod u\+s/) });
  await waitFor('ls shows why the job waits', async () => /failed its boot proof: softnet/.test((await world.ls()).queue?.find((q) => q.job_id === id)?.reason ?? ''), 20_000);
  expect(runnersNamed(world, 'tf-coder-')).toEqual([]);
});
