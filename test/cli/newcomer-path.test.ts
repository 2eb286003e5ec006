// The README's "Install on a real Mac" steps 3 and 6–9 over the simulated Mac, each as the README
// names it: secrets in 0600 files → `tart-fleet init --org` → `validate` passes (no FAIL: init's
// profiles fit the macOS golden image) → one tick of `run` → `ls` reads its snapshot (exit 0).
// (`launchd --install` itself is macOS-only; real-mac-walk.test.ts starts the daemon as its plist says.)
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { jest } from '@jest/globals';
import { worldsDestroyedAfterEach } from '../e2e/helpers.js';
import { initCommand } from '../../src/cli/init.js';
import { runBin } from './cli-helpers.js';

jest.setTimeout(120_000);

const newWorld = worldsDestroyedAfterEach();

test('init → validate → run → ls on the simulated Mac, with no step the README does not name', async () => {
  const world = await newWorld({ speed: 40 });
  const home = mkdtempSync(join(tmpdir(), 'tf-newcomer-'));
  // Step 3: secrets in files only the CI user can read, given by path.
  const token = join(home, 'token');
  const password = join(home, 'ssh-password');
  writeFileSync(token, world.token, { mode: 0o600 });
  writeFileSync(password, world.sshPassword, { mode: 0o600 });
  const env: NodeJS.ProcessEnv = { ...world.daemonEnv(), TART_FLEET_GITHUB_TOKEN_FILE: token, TART_FLEET_SSH_PASSWORD_FILE: password };
  delete env.TART_FLEET_GITHUB_TOKEN;
  delete env.TART_FLEET_SSH_PASSWORD;

  // Step 6: init on a 16 GB Mac whose tart holds the macOS golden image `workhorse`.
  const out = new PassThrough();
  expect(await initCommand({ env: { TART_HOME: world.tartHome }, cwd: home, stdout: out, stderr: new PassThrough(), hostname: 'sim-mac.local', totalMemBytes: 16 * 1024 ** 3 }, { org: world.github.org, image: 'workhorse' })).toBe(0);
  const config = join(home, 'pipeline.yml');
  const cli = (args: string[]) => runBin([...args, '--config', config], { env, cwd: home });

  // Step 7: the doctor passes as written.
  const validate = await cli(['validate']);
  expect(validate.stdout).not.toMatch(/^FAIL/m);
  expect(validate.stdout).toMatch(/^ok {3}profile coder: 2 CPU \/ 4096 MB fits workhorse \(macos\)$/m);
  expect(validate.code).toBe(0);

  // Steps 8–9: the daemon ticks (here once) and `ls` reads what it saw.
  expect((await cli(['run', '--once'])).code).toBe(0);
  const ls = await cli(['ls']);
  expect(ls.stdout).toMatch(/^tart-fleet on sim-mac: daemon pid \d+, tick 1/m);
  expect(ls.stdout).toMatch(/VMs 0 \(macOS 0\/2\)/);
});
