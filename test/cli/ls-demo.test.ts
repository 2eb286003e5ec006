// The demo as a user runs it (real bin, stdout not a TTY): it tells how to watch it with
// `ls --watch --state-dir`, that works from another process while it runs, and the demo ends
// when its jobs are done, exit 0, leaving nothing behind.
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { jest } from '@jest/globals';
import { PACKAGE_ROOT } from '../../src/config/package.js';
import { waitFor } from '../e2e/helpers.js';

jest.setTimeout(300_000);
const BIN = join(PACKAGE_ROOT, 'bin', 'tart-fleet.js');

function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('TART_FLEET_') && !k.startsWith('TART_SIM_') && k !== 'GITHUB_TOKEN') env[k] = v;
  return env;
}

test('demo: ls --state-dir reads its snapshot while it runs; it ends when its jobs are done, exit 0, its temp dir gone', async () => {
  const demo = spawn(process.execPath, [BIN, 'demo', '--jobs', '2', '--speed', '60'], { env: cleanEnv() });
  let out = '';
  demo.stdout.on('data', (c: Buffer) => (out += c.toString()));
  demo.stderr.on('data', (c: Buffer) => (out += c.toString()));
  let demoEnded = false;
  const exited = new Promise<number | null>((resolve) => demo.once('exit', (c) => {
    demoEnded = true;
    resolve(c);
  }));

  await waitFor('the ls hint', () => /ls --watch --state-dir (\S+)/.test(out), 60_000);
  const stateDir = /ls --watch --state-dir (\S+)/.exec(out)![1]!;
  // While the demo runs: the daemon's snapshot appears and `ls` reads it.
  let ls = { code: -1, stdout: '' };
  await waitFor('ls against the running demo', async () => {
    ls = await new Promise((resolve) => {
      execFile(process.execPath, [BIN, 'ls', '--state-dir', stateDir], { env: cleanEnv() }, (err, stdout) => resolve({ code: err ? Number((err as { code?: number }).code) : 0, stdout }));
    });
    // Stop trying once the demo is over (the assertion below then says what ls answered last).
    return ls.code === 0 || demoEnded;
  }, 120_000, 300);
  expect(ls.code).toBe(0);
  expect(ls.stdout).toMatch(/^tart-fleet on demo-mac: daemon pid \d+, tick \d+/m);

  expect(await exited).toBe(0);
  expect(out).toContain('demo finished: every job ran in its own VM, and every VM is gone');
  expect(out).toMatch(/2\/2 done, 0 running, 0 queued/);
  expect(existsSync(join(stateDir, '..'))).toBe(false);
});
