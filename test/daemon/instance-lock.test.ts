// One daemon per state dir, with two real daemons (`node bin/tart-fleet.js run`) on one simulated
// Mac: the second exits 1 naming the first's pid and the state dir; once the first is gone (stopped,
// or SIGKILLed and its pid file left behind), the next one starts.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jest } from '@jest/globals';
import { SimWorld } from '../../src/sim/world.js';
import { acquireInstanceLock, InstanceLockedError } from '../../src/daemon/instance-lock.js';
import { statePaths } from '../../src/config/paths.js';

const lockIn = (stateDir: string) => statePaths({ state_dir: stateDir }).lock;
import { runBin } from '../cli/cli-helpers.js';

jest.setTimeout(120_000);

let world: SimWorld;
afterAll(async () => {
  await world?.destroy();
});

const runOnce = () => runBin(['run', '--once', '--config', world.configPath], { env: world.daemonEnv(), cwd: world.dir });

async function until(what: () => boolean, label: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (what()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${label}`);
}

test('a second run on the same state dir exits 1 naming the first daemon and the state dir; after the first stops, the next one runs', async () => {
  world = await SimWorld.create({ speed: 40 });
  const stateDir = join(world.dir, 'state');
  const first = world.startDaemon();
  await until(() => existsSync(join(stateDir, 'status.json')), 'the first daemon\'s first snapshot');

  const second = await runOnce();
  expect(second.code).toBe(1);
  expect(second.stderr.trim()).toBe(
    `another tart-fleet daemon (pid ${first.pid}) is running on the state dir ${stateDir} (lock ${lockIn(stateDir)}): ` +
      'stop it first (under launchd: `tart-fleet launchd --status` shows it), or give this one its own host.state_dir',
  );
  expect(second.stdout).not.toMatch(/tart-fleet starting/);
  // The first one is untouched and still holds the lock.
  expect(first.exitCode).toBeNull();
  expect(readFileSync(lockIn(stateDir), 'utf8').trim()).toBe(String(first.pid));

  expect(await world.stopDaemon()).toBe(0);
  expect(existsSync(lockIn(stateDir))).toBe(false);
  expect((await runOnce()).code).toBe(0);
});

test('teardown names the running daemon of the state dir (its pid) in its warning', async () => {
  const stateDir = join(world.dir, 'state');
  const daemon = world.startDaemon();
  try {
    world.queue('coder', { durationS: 6000 });
    for (let i = 0; i < 600 && !(await world.tartList()).some((v) => v.Name.startsWith('tf-sim-mac-')); i++) await new Promise((r) => setTimeout(r, 100));
    const teardown = await runBin(['teardown', '--config', world.configPath], { env: world.daemonEnv(), cwd: world.dir });
    expect(teardown.code).toBe(2); // no TTY, no --yes: lists and removes nothing
    expect(teardown.stderr).toContain(`warning: \`tart-fleet run\` (pid ${daemon.pid}, state dir ${stateDir}) is running and re-creates VMs`);
  } finally {
    // Stopped whatever the outcome: the next test needs the state dir free.
    expect(await world.stopDaemon()).toBe(0);
  }
});

test('a SIGKILLed daemon leaves its pid file; the next start finds the pid gone and takes over', async () => {
  const stateDir = join(world.dir, 'state');
  const killed = world.startDaemon();
  await until(() => existsSync(lockIn(stateDir)) && readFileSync(lockIn(stateDir), 'utf8').trim() === String(killed.pid), 'the lock');
  const gone = new Promise((r) => killed.once('exit', r));
  killed.kill('SIGKILL');
  await gone;
  expect(existsSync(lockIn(stateDir))).toBe(true);
  expect((await runOnce()).code).toBe(0);
});

describe('the lock file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tf-lock-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('is 0600, holds the pid, and is removed by its owner only', () => {
    const lock = acquireInstanceLock(dir, { pid: 111, isAlive: () => true });
    expect(statSync(lock.file).mode & 0o777).toBe(0o600);
    expect(() => acquireInstanceLock(dir, { pid: 222, isAlive: () => true })).toThrow(InstanceLockedError);
    writeFileSync(lock.file, '333\n');
    lock.release();
    expect(readFileSync(lock.file, 'utf8')).toBe('333\n');
    rmSync(lock.file);
  });

  test('a file from before this boot is stale even if its pid now exists (pids are reused after a reboot)', () => {
    writeFileSync(lockIn(dir), '444\n');
    const longAgo = new Date(Date.now() - 86_400_000);
    utimesSync(lockIn(dir), longAgo, longAgo);
    const lock = acquireInstanceLock(dir, { pid: 555, isAlive: () => true, bootedAt: () => Date.now() - 3_600_000 });
    expect(readFileSync(lock.file, 'utf8').trim()).toBe('555');
    lock.release();
  });
});
