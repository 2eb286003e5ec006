// End-to-end: misbehaving guests, jobs past their timeout, and two Macs on one org.
import { expectRanOnceOnProfile, jobsDone, ourVms, scaledTimeout, waitFor, worldsDestroyedAfterEach } from './helpers.js';
import { jest } from '@jest/globals';

jest.setTimeout(scaledTimeout(150_000));

const newWorld = worldsDestroyedAfterEach();

test('a guest that does not power off after its job: its VM is deleted anyway once the runner is gone', async () => {
  const world = await newWorld({ speed: 40, simEnv: { TART_SIM_GUEST_STAYS_UP: '1' } });
  const id = world.queue('coder', { durationS: 20 });
  world.startDaemon();
  await waitFor('done and clean', async () => jobsDone(world, [id]) && (await ourVms(world)).length === 0, 40_000);
  expect(world.tartEvents().some((e) => e.event === 'stop')).toBe(true);
});

test("a job that outlives its profile's timeout: the VM is stopped and deleted, and the log says why", async () => {
  const world = await newWorld({
    speed: 40,
    simEnv: { TART_SIM_JOB_HANG: '1' },
    config: { profiles: { coder: { ram_mb: 2048, cpu: 2, timeout_minutes: 0.05, os: 'linux', image: 'workhorse-linux' } } },
  });
  world.queue('coder');
  world.startDaemon();
  await waitFor('the VM is gone after its timeout', async () => world.tartEvents().some((e) => e.event === 'delete') && (await ourVms(world)).length === 0, 40_000);
  expect(world.logLines().some((l) => typeof l.reason === 'string' && l.reason.includes('timeout'))).toBe(true);
});

test('two daemons with different runner_name on one org: every job runs exactly once, one VM per job', async () => {
  const a = await newWorld({ speed: 40, runnerName: 'mac-a' });
  const b = await newWorld({ speed: 40, runnerName: 'mac-b', github: { server: a.github, apiUrl: a.apiUrl, token: a.token } });
  // macOS guests (two per Mac): six jobs need both Macs.
  const ids = [1, 2, 3, 4, 5, 6].map(() => a.queue('marketer', { durationS: 20 }));
  a.startDaemon();
  b.startDaemon();
  await waitFor('all done and clean on both Macs', async () => jobsDone(a, ids) && (await ourVms(a)).length === 0 && (await ourVms(b)).length === 0, 60_000);
  expectRanOnceOnProfile(a, ids);
  // One clone per job across both Macs; on failure the diff names the extra VMs and why they were made.
  const clones = [...a.tartEvents(), ...b.tartEvents()].filter((e) => e.event === 'clone').map((e) => e.vm);
  const jobOf = (vm: string) => Number(/-(\d+)(?:-\d+)?$/.exec(vm)?.[1]);
  const trouble = [...a.logLines(), ...b.logLines()].filter((l) => l.level === 'warn' || l.level === 'error').map((l) => `${String(l.msg)} ${String(l.vm ?? '')} ${String(l.error ?? l.reason ?? '')}`);
  expect({ jobsCloned: clones.map(jobOf).sort(), trouble: clones.length === ids.length ? [] : trouble }).toEqual({ jobsCloned: [...ids].sort(), trouble: [] });
  expect(a.tartEvents().some((e) => e.event === 'clone')).toBe(true);
  expect(b.tartEvents().some((e) => e.event === 'clone')).toBe(true);
});

test('a repository whose jobs the runner group refuses: max_boot_attempts VMs at most, then the daemon leaves it alone and says why, also after a restart; other jobs still run', async () => {
  // Short enough to give up within seconds, long enough that a loaded CI machine still hands the
  // private job to its runner in time (at 2 s a slow delivery read as "unused" there).
  const world = await newWorld({ speed: 40, config: { vm: { registration_timeout_seconds: 8 } } });
  // The Default group admits selected repositories only, and `hidden` is not one of them: GitHub
  // (and the fake) never gives its job to our runner. tart-fleet cannot see group membership per
  // repository, so it learns this the hard way, bounded by max_boot_attempts.
  world.github.addRunnerGroup({ id: 1, visibility: 'selected', selectedRepositories: ['app'] });
  world.github.addRepo('hidden');
  const refused = world.queue('coder', { repo: 'hidden', durationS: 20 });
  world.startDaemon();
  // The give-up lives in the daemon (like failed boots), so the daemon's log is where it shows.
  await waitFor('the daemon gives up on the refused job', () => world.logLines().some((l) => String(l.msg).startsWith('leaving a job alone') && l.job === refused), 60_000);
  const private_ = world.queue('coder', { durationS: 20 });
  await waitFor('the private job ran and everything is clean', async () => jobsDone(world, [private_]) && (await ourVms(world)).length === 0, 40_000);
  expect(world.github.job(refused).status).toBe('queued');
  const clonesForRefused = () => world.tartEvents().filter((e) => e.event === 'clone' && e.vm.includes(`-${refused}`));
  expect(clonesForRefused()).toHaveLength(3);
  expect(world.logLines().filter((l) => String(l.msg).startsWith('leaving a job alone'))).toHaveLength(1);

  // The give-up survives a restart (host.state_dir), and ls says why the job waits.
  await world.stopDaemon();
  const ticksBefore = world.logLines().filter((l) => l.msg === 'tick done').length;
  world.startDaemon();
  await waitFor('three ticks of the restarted daemon', () => world.logLines().filter((l) => l.msg === 'tick done').length >= ticksBefore + 3, 60_000);
  expect(clonesForRefused()).toHaveLength(3);
  const ls = await world.ls();
  expect((ls.queue ?? []).find((q) => q.job_id === refused)?.reason).toMatch(/^gave up after 3 failed attempts on this Mac \(3× runner got no job\)/);
});

test("a public repository's job on a trusted profile's labels costs no VM (the trusted group does not take public repositories); ls says why; private jobs still run", async () => {
  const world = await newWorld({ speed: 40 });
  // GitHub's default runner group does not admit public repositories, and the fake routes as GitHub
  // does: each VM would boot for nothing (audit turn4-security e6: 3 boots per job).
  world.github.addRepo('site', { private: false });
  const refused = world.queue('coder', { repo: 'site', durationS: 20 });
  world.startDaemon();
  const private_ = world.queue('coder', { durationS: 20 });
  await waitFor('the private job ran and everything is clean', async () => jobsDone(world, [private_]) && (await ourVms(world)).length === 0, 60_000);
  const ticks = world.logLines().filter((l) => l.msg === 'tick done').length;
  await waitFor('three more ticks', () => world.logLines().filter((l) => l.msg === 'tick done').length >= ticks + 3, 60_000);
  expect(world.github.job(refused).status).toBe('queued');
  expect(world.tartEvents().filter((e) => e.event === 'clone' && e.vm.includes(`-${refused}`))).toHaveLength(0);
  const ls = await world.ls();
  expect(ls.queue?.find((q) => q.job_id === refused)?.reason).toMatch(/\/site is public: trusted profile coder's runner group does not take public repositories' jobs/);
});
