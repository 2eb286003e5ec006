// `ls --fleet` against two simulated Macs on one fake GitHub org, each with its own real daemon: every
// Mac is seen from either one, from GitHub's runner list alone. Plus the grouping rules on their own.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { jest } from '@jest/globals';
import { PACKAGE_ROOT } from '../../src/config/package.js';
import { SEED_PROFILES, type SimWorld } from '../../src/sim/world.js';
import { macsOf } from '../../src/cli/fleet.js';
import type { Runner } from '../../src/core/ports.js';
import { scaledTimeout, waitFor, worldsDestroyedAfterEach } from './helpers.js';

jest.setTimeout(scaledTimeout(150_000));

const run = promisify(execFile);
const BIN = join(PACKAGE_ROOT, 'bin', 'tart-fleet.js');
const newWorld = worldsDestroyedAfterEach();

async function cli(world: SimWorld, args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args, '--config', world.configPath], { env: { ...world.daemonEnv(), ...env }, cwd: world.dir });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

test('two Macs, two daemons, one org: ls --fleet on either shows both, with their busy runners and profiles', async () => {
  // 8 GB for VMs on each Mac: two coder VMs (4096 MB, the macOS minimum) each, so four long jobs run
  // two here, two there. (coder only: developer, 8192 MB, would take a Mac's whole ceiling.)
  const config = { profiles: { coder: SEED_PROFILES.coder } };
  const a = await newWorld({ runnerName: 'mac-a', ramGb: 12, reservedGb: 4, speed: 20, config });
  const b = await newWorld({ runnerName: 'mac-b', ramGb: 12, reservedGb: 4, speed: 20, config, github: { server: a.github, apiUrl: a.apiUrl, token: a.token } });
  const ids = [1, 2, 3, 4].map(() => a.queue('coder', { durationS: 1200 }));
  a.startDaemon();
  b.startDaemon();
  await waitFor('all four jobs run', () => ids.every((id) => a.github.job(id).status === 'in_progress'), 40_000);

  const fromA = await cli(a, ['ls', '--fleet', '--json']);
  expect(fromA.code).toBe(0);
  const view = JSON.parse(fromA.stdout) as { org: string; this_mac: string; macs: Array<Record<string, unknown>>; note: string };
  expect(view.this_mac).toBe('mac-a');
  expect(view.macs).toEqual([
    expect.objectContaining({ name: 'mac-a', this_mac: true, runners: 2, busy: 2, profiles: ['coder'] }),
    expect.objectContaining({ name: 'mac-b', this_mac: false, runners: 2, busy: 2, profiles: ['coder'] }),
  ]);
  // Each Mac's runners are the ones that run its jobs, as GitHub records them.
  const runnersOf = (mac: string) => (view.macs.find((m) => m.name === mac)!.runner_names as string[]);
  expect([...runnersOf('mac-a'), ...runnersOf('mac-b')].sort()).toEqual(ids.map((id) => a.github.job(id).runnerName).sort());
  expect(view.note).toMatch(/idle Macs, .* are not listed/);

  const fromB = await cli(b, ['ls', '--fleet']);
  expect(fromB.code).toBe(0);
  expect(fromB.stdout).toMatch(/mac-b \(this Mac\)\s*│ 2\s*│ 2\s*│/);
  expect(fromB.stdout).toMatch(/mac-a\s*│ 2\s*│ 2\s*│/);
  expect(fromB.stdout).toMatch(/a Mac shows here only while it holds a runner/);

  // GitHub unreadable: unknown (exit 4), not an empty fleet.
  const denied = await cli(a, ['ls', '--fleet', '--json'], { TART_FLEET_GITHUB_TOKEN: `ghp_${'x'.repeat(36)}` });
  expect(denied.code).toBe(4);
  expect(denied.stdout).toBe('');
  expect(denied.stderr).toMatch(/GitHub could not be read .*the org's runners, and so its Macs, are unknown/);
});

test('grouping: by tf-host label (case-insensitive), busy / idle / starting / offline, foreign runners ignored', () => {
  const r = (name: string, host: string | undefined, f: Partial<Runner> = {}): Runner => ({
    id: 1, name, labels: ['self-hosted', 'coder', ...(host ? [`tf-host-${host}`] : [])], status: 'online', busy: false, everConnected: true, ...f,
  });
  const macs = macsOf([
    r('tf-coder-1', 'mac-b', { busy: true }),
    r('tf-developer-2', 'MAC-B', { everConnected: false, status: 'offline' }),
    r('tf-coder-3', 'mac-a', { status: 'offline' }),
    r('tf-coder-4', 'mac-a'),
    r('tf-coder-5', undefined, { busy: true }),
    r('build-box-7', 'mac-a', { busy: true }),
  ], 'mac-a');
  expect(macs.map(({ runner_names: _n, ...m }) => m)).toEqual([
    { name: 'mac-a', this_mac: true, runners: 2, busy: 0, idle: 1, starting: 0, offline: 1, profiles: ['coder'] },
    { name: '(no tf-host label)', this_mac: false, runners: 1, busy: 1, idle: 0, starting: 0, offline: 0, profiles: ['coder'] },
    { name: 'mac-b', this_mac: false, runners: 2, busy: 1, idle: 0, starting: 1, offline: 0, profiles: ['coder', 'developer'] },
  ]);
});
