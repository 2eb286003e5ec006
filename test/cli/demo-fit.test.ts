// The demo on the Macs people have: `--ram-gb 8` (the base Mac mini) runs, its profiles fitted to
// the RAM; too little RAM is a usage error saying how much is needed; the watch hint is on every
// frame of the live view (which covers the screen), and the end says where the state was kept.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { jest } from '@jest/globals';
import { PACKAGE_ROOT } from '../../src/config/package.js';
import { fitDemoProfiles } from '../../src/cli/demo-profiles.js';
import { renderScreen } from '../../src/cli/demo-view.js';

jest.setTimeout(300_000);
const execFileP = promisify(execFile);
const BIN = join(PACKAGE_ROOT, 'bin', 'tart-fleet.js');

function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('TART_FLEET_') && !k.startsWith('TART_SIM_') && !k.startsWith('GITHUB_')) env[k] = v;
  return env;
}

async function demo(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileP(process.execPath, [BIN, 'demo', ...args], { env: cleanEnv() });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

test('demo --ram-gb 8: every profile runs at 4096 MB (the macOS minimum), every job runs', async () => {
  const { code, stdout } = await demo(['--ram-gb', '8', '--jobs', '3', '--speed', '60']);
  expect(stdout).toMatch(/^tart-fleet demo: 3 jobs for developer 4096 MB, coder 4096 MB, marketer 4096 MB .* simulated 8 GB Mac, 4 GB reserved/m);
  expect(stdout).toContain('demo finished: every job ran in its own VM, and every VM is gone');
  expect(stdout).toMatch(/peak RAM +\d+ MB of a 4096 MB ceiling/);
  expect(stdout).toMatch(/^the demo's state \(\S+\/state\) is removed as the demo exits$/m);
  expect(code).toBe(0);
});

test('demo --ram-gb 4 leaves nothing for VMs: exit 2 naming the RAM it needs', async () => {
  const { code, stderr } = await demo(['--ram-gb', '4']);
  expect(code).toBe(2);
  expect(stderr.trim()).toBe("--ram-gb: 4 GB leaves 0 GB for VMs after 4 GB reserved for macOS; the demo's smallest VM needs 4 GB: give --ram-gb 8 or more");
});

test('profiles fitted to the RAM: the shipped sizes on 16 GB, the macOS minimum on 8 GB, none on 6 GB', () => {
  const sizes = (gb: number) => Object.fromEntries(Object.entries(fitDemoProfiles(gb)).map(([n, p]) => [n, p.ram_mb]));
  expect(sizes(16)).toEqual({ developer: 8192, coder: 4096, marketer: 5120 });
  expect(sizes(8)).toEqual({ developer: 4096, coder: 4096, marketer: 4096 });
  expect(sizes(6)).toEqual({});
});

test('the watch hint is on every frame, even a small terminal full of events', () => {
  const hint = 'watch: npx tart-fleet ls --watch --state-dir /tmp/x/state';
  const frame = renderScreen({
    snapshot: undefined, progress: { total: 3, queued: 3, running: 0, done: 0, elapsedS: 1 },
    events: Array.from({ length: 50 }, (_, i) => `event ${i}`), title: 'demo', hint, columns: 80, rows: 10,
  });
  expect(frame.split('\n').slice(0, 3).some((l) => l.includes(hint))).toBe(true);
});
