// Drain and resume with the real daemon and the real CLI in the simulated world: a running job
// finishes, `drain --wait` reports idle once its VM is gone, a queued job is not claimed while
// drained (its reason says so), the drain survives a daemon restart, and `resume` lets it run;
// both jobs are then in the job history (`ls --history`) and the run-time metric.
import { execFile, spawn } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { jest } from '@jest/globals';
import { PACKAGE_ROOT, packageVersion } from '../../src/config/package.js';
import type { SimWorld } from '../../src/sim/world.js';
import { jobsDone, ourVms, scaledTimeout, waitFor, worldsDestroyedAfterEach } from './helpers.js';

jest.setTimeout(scaledTimeout(180_000));

const run = promisify(execFile);
const BIN = join(PACKAGE_ROOT, 'bin', 'tart-fleet.js');
const newWorld = worldsDestroyedAfterEach();

async function cli(world: SimWorld, args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [BIN, ...args, '--config', world.configPath], { env: world.daemonEnv(), cwd: world.dir });
  return stdout;
}

/** `ls --json` by the real CLI, or undefined while there is no fresh snapshot (exit 3). */
async function lsOrNothing(world: SimWorld): Promise<Awaited<ReturnType<SimWorld['ls']>> & { admission?: string; daemon_pid?: number } | undefined> {
  try {
    return await world.ls();
  } catch (err) {
    const out = (err as { stdout?: string }).stdout;
    return out ? JSON.parse(out) : undefined;
  }
}

test('drain: the running job finishes, drain --wait says idle, a queued job waits across a restart, resume runs it', async () => {
  const world = await newWorld({ speed: 20 });
  world.startDaemon();
  const first = world.queue('coder', { durationS: 120 }); // 6 real seconds
  await waitFor('the first job runs', () => world.github.job(first).status === 'in_progress', 60_000);

  const waiter = spawn(process.execPath, [BIN, 'drain', '--wait', '--config', world.configPath], { env: world.daemonEnv(), cwd: world.dir });
  let waitOut = '';
  waiter.stdout.on('data', (c: Buffer) => (waitOut += c.toString()));
  waiter.stderr.on('data', (c: Buffer) => (waitOut += c.toString()));
  const waited = new Promise<number | null>((resolve) => waiter.once('exit', (code) => resolve(code)));

  await waitFor('the drain file is written', () => waitOut.includes('is draining'), 30_000);
  const drainFile = join(world.dir, 'state', 'admission.json');
  expect(statSync(drainFile).mode & 0o777).toBe(0o600);
  const second = world.queue('coder', { durationS: 20 });
  const drainedReason = async () => {
    const ls = await lsOrNothing(world);
    return ls?.queue?.find((q) => q.job_id === second)?.reason ?? "";
  };
  await waitFor('the queued job waits because the Mac is draining', async () => /this Mac is draining/.test(await drainedReason()), 30_000);

  expect(await waited).toBe(0);
  expect(waitOut).toMatch(/waiting: 1 VM\(s\) of this host still run: tf-sim-mac-coder-\d+ \(running job \d+ of /);
  expect(waitOut).toMatch(/idle: no VM of this host runs/);
  expect(jobsDone(world, [first])).toBe(true);
  expect(await ourVms(world)).toEqual([]);
  expect(world.github.job(second).status).toBe('queued');
  expect((await world.ls()).queue?.find((q) => q.job_id === second)?.reason).toMatch(/this Mac is draining \(drained .*at .*\): it claims no new job until `tart-fleet resume`/);
  const human = await cli(world, ['ls']);
  expect(human).toMatch(/admission: DRAINING/);
  // The version, from package.json: in ls's header and in the daemon's start line.
  expect(human).toContain(`, version ${packageVersion()}`);
  expect(world.logLines().find((l) => l.msg === 'tart-fleet starting')?.version).toBe(packageVersion());

  // A restart keeps the drain: the new daemon's first snapshots show it, and nothing is claimed.
  const oldPid = world.daemon!.pid;
  expect(await world.stopDaemon()).toBe(0);
  world.startDaemon();
  await waitFor('the restarted daemon reports the job as drained', async () => {
    const ls = await lsOrNothing(world);
    return ls?.daemon_pid !== undefined && ls.daemon_pid !== oldPid && ls.admission === 'draining' && /this Mac is draining/.test(ls.queue?.find((q) => q.job_id === second)?.reason ?? '');
  }, 30_000);
  expect(world.github.job(second).status).toBe('queued');
  expect(world.tartEvents().filter((e) => e.event === 'clone')).toHaveLength(1);

  expect(await cli(world, ['resume'])).toMatch(/takes new jobs again/);
  await waitFor('the job runs after resume', () => jobsDone(world, [second]), 60_000);
  expect((await lsOrNothing(world))?.admission).toBe('open');
  expect(await cli(world, ['resume'])).toMatch(/was not draining/);

  // The job history: both jobs, across the restart, from the real daemon; and their run time in the metrics.
  const history = async () => (JSON.parse(await cli(world, ['ls', '--history', '--json'])) as { history: Array<Record<string, unknown>> }).history;
  await waitFor('both jobs in the history', async () => (await history()).length === 2, 30_000);
  expect(await history()).toEqual([second, first].map((id) => expect.objectContaining({
    job_id: id, profile: 'coder', repo: expect.stringMatching(/app$/), workflow: 'CI', result: 'done',
    queue_wait_s: expect.any(Number), boot_s: expect.any(Number), duration_s: expect.any(Number),
  })));
  expect(statSync(join(world.dir, 'state', 'history.jsonl')).mode & 0o777).toBe(0o600);
  expect(await cli(world, ['ls', '--history'])).toMatch(/newest first \(2 of 2 kept/);
  await waitFor('the run time of the second job in the metrics', () => /^tart_fleet_job_duration_seconds_count\{profile="coder"\} 1$/m.test(readFileSync(join(world.dir, 'state', 'tart-fleet.prom'), 'utf8')), 30_000);
});
