// Walks the README's real-Mac steps as far as Linux allows, against the simulated world:
// secrets in 0600 files → `validate` → `selftest` → `launchd` renders the (LaunchAgent) plist → the daemon started exactly as
// that plist says (ProgramArguments + EnvironmentVariables) runs a job and stops cleanly on SIGTERM.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { jest } from '@jest/globals';
import { parse as parsePlist } from 'plist';
import { worldsDestroyedAfterEach } from '../e2e/helpers.js';
import { BIN, execFileP } from './cli-helpers.js';

jest.setTimeout(120_000);

const newWorld = worldsDestroyedAfterEach();

test('secret files → validate → selftest → launchd plist → the daemon as launchd would start it', async () => {
  const world = await newWorld({ speed: 40 });
  const tokenFile = join(world.dir, 'github-token');
  const passwordFile = join(world.dir, 'ssh-password');
  writeFileSync(tokenFile, `${world.token}\n`, { mode: 0o600 });
  writeFileSync(passwordFile, `${world.sshPassword}\n`, { mode: 0o600 });
  // The operator's shell: secrets only as file paths; the simulation's pointers as plain settings.
  const shell: NodeJS.ProcessEnv = { ...world.daemonEnv(), TART_FLEET_GITHUB_TOKEN_FILE: tokenFile, TART_FLEET_SSH_PASSWORD_FILE: passwordFile };
  delete shell.TART_FLEET_GITHUB_TOKEN;
  delete shell.TART_FLEET_SSH_PASSWORD;

  const validate = await execFileP(process.execPath, [BIN, 'validate', '--config', world.configPath], { env: shell });
  expect(validate.stdout).not.toMatch(/^FAIL/m);

  // The image end to end before any job: clone, boot, SSH with the password from its file, delete.
  const selftest = await execFileP(process.execPath, [BIN, 'selftest', '--config', world.configPath], { env: shell });
  expect(selftest.stdout).toMatch(/^ok {3}ssh: /m);
  expect(selftest.stdout).toMatch(/^ok {3}cleanup: /m);
  expect(selftest.stdout).not.toMatch(/^FAIL/m);
  expect(selftest.stdout + selftest.stderr).not.toContain(world.sshPassword);

  const logDir = join(world.dir, 'daemon-logs');
  // The default install: a LaunchAgent for the CI user's GUI session (printed; --install runs as that user).
  const rendered = await execFileP(process.execPath, [BIN, 'launchd', '--config', world.configPath, '--user', 'ci', '--log-dir', logDir], { env: shell });
  expect(rendered.stdout + rendered.stderr).not.toContain(world.token);
  expect(rendered.stdout + rendered.stderr).not.toContain(world.sshPassword);
  const daemon = parsePlist(rendered.stdout) as { ProgramArguments: string[]; EnvironmentVariables: Record<string, string>; WorkingDirectory: string; UserName?: string; StandardOutPath: string; LimitLoadToSessionType: string };
  expect(daemon.UserName).toBeUndefined();
  expect(daemon.LimitLoadToSessionType).toBe('Aqua');
  const logFile = join(logDir, 'tart-fleet.log');
  // --use-system-ca only where this node has it (Node 20 has not).
  const systemCa = process.allowedNodeEnvironmentFlags.has('--use-system-ca') ? ['--use-system-ca'] : [];
  expect(daemon.ProgramArguments).toEqual([process.execPath, '--max-semi-space-size=2', '--no-memory-reducer', ...systemCa, BIN, 'run', '--config', world.configPath, '--log-file', logFile]);
  expect(daemon.StandardOutPath).toBe('/dev/null');
  expect(daemon.EnvironmentVariables).toMatchObject({ TART_FLEET_GITHUB_TOKEN_FILE: tokenFile, TART_FLEET_SSH_PASSWORD_FILE: passwordFile, TART_FLEET_CONFIG: world.configPath });

  // launchd would run exactly this. On Linux, HOME and the fake tart's TART_* state come from the world.
  const [program, ...args] = daemon.ProgramArguments;
  const child = spawn(program!, args, {
    cwd: daemon.WorkingDirectory,
    env: { ...daemon.EnvironmentVariables, ...world.simEnv(), HOME: world.dir, PATH: process.env.PATH ?? '/usr/bin:/bin' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout.on('data', (d: Buffer) => (log += String(d)));
  child.stderr.on('data', (d: Buffer) => (log += String(d)));
  const id = world.queue('coder', { durationS: 20 });
  const deadline = Date.now() + 40_000;
  while (world.github.job(id).status !== 'completed' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  expect(world.github.job(id).status).toBe('completed');

  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  expect(await exited).toBe(0);
  expect(log).not.toContain(world.token);
  expect(log).not.toContain(world.sshPassword);
  // Under launchd stdout goes nowhere: the log is the file the daemon writes (and rotates) itself.
  const fileLog = readFileSync(logFile, 'utf8');
  expect(fileLog).toContain('"msg":"tick done"');
  expect(fileLog.trim().split('\n').every((l) => typeof (JSON.parse(l) as { time: string }).time === 'string')).toBe(true);
  expect(fileLog).not.toContain(world.token);
  expect(fileLog).not.toContain(world.sshPassword);
});
