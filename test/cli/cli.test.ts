// The command line as a user runs it: the real bin, in a child process.
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { jest } from '@jest/globals';
import { PACKAGE_ROOT } from '../../src/config/schema.js';
import { SimWorld } from '../../src/sim/world.js';

jest.setTimeout(60_000);
const execFileP = promisify(execFile);
const BIN = join(PACKAGE_ROOT, 'bin', 'tart-fleet.js');
const dir = mkdtempSync(join(tmpdir(), 'tf-cli-'));

async function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const clean: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('TART_FLEET_') && k !== 'GITHUB_TOKEN') clean[k] = v;
  try {
    const { stdout, stderr } = await execFileP(process.execPath, [BIN, ...args], { env: { ...clean, ...env }, cwd: dir });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

test('--help lists every command, and each command has its own --help', async () => {
  const { code, stdout } = await cli(['--help']);
  expect(code).toBe(0);
  for (const c of ['run', 'ls', 'validate', 'demo', 'launchd']) expect(stdout).toMatch(new RegExp(`^  ${c}\\b`, 'm'));
  for (const c of ['run', 'ls', 'validate', 'demo', 'launchd']) expect((await cli([c, '--help'])).stdout).toContain(`Usage: tart-fleet ${c}`);
});

test('validate loads the example pipeline.yml', async () => {
  const { code, stdout } = await cli(['validate', '--config-only', '--config', join(PACKAGE_ROOT, 'pipeline.yml')], { TART_FLEET_HOST_TOTAL_RAM_MB: '16384' });
  expect(code).toBe(0);
  expect(stdout).toContain('ok   ram ceiling: 12288 MB for VMs');
});

test('a broken config exits 2 naming every field, with no stack trace', async () => {
  const bad = join(dir, 'bad.yml');
  writeFileSync(bad, 'github:\n  runner_name: a\nprofiles:\n  coder: { ram_mb: -1, cpu: 2, timeout_minutes: 60 }\nsurprise: true\n');
  const { code, stderr } = await cli(['validate', '--config', bad]);
  expect(code).toBe(2);
  expect(stderr.trim().split('\n').sort()).toEqual(['github.org: is required', 'profiles.coder.ram_mb: must be >= 512', 'surprise: unknown key']);
});

test('unknown commands and bad options are usage errors (exit 2)', async () => {
  expect((await cli(['frobnicate'])).code).toBe(2);
  expect((await cli(['demo', '--jobs', 'many'])).code).toBe(2);
});

test('TART_FLEET_HOST_RESERVED_RAM_GB changes the ceiling ls --json reports, even with no tart and no GitHub', async () => {
  const env = { TART_FLEET_HOST_TOTAL_RAM_MB: '16384', TART_FLEET_TART_BIN: '/nonexistent/tart' };
  const base = JSON.parse((await cli(['ls', '--json', '--config', join(PACKAGE_ROOT, 'pipeline.yml')], env)).stdout);
  const six = JSON.parse((await cli(['ls', '--json', '--config', join(PACKAGE_ROOT, 'pipeline.yml')], { ...env, TART_FLEET_HOST_RESERVED_RAM_GB: '6' })).stdout);
  expect(base.ledger.ceiling_mb).toBe(12288);
  expect(six.ledger.ceiling_mb).toBe(10240);
  expect(six.ledger.used_mb).toBeNull();
  expect(six.problems.join('\n')).toMatch(/tart could not be read/);
});

describe('against the simulated world', () => {
  let world: SimWorld;
  beforeAll(async () => {
    world = await SimWorld.create({ speed: 40 });
  });
  afterAll(async () => {
    await world.destroy();
  });
  const inWorld = (args: string[], extra: Record<string, string> = {}) => cli([...args, '--config', world.configPath], world.daemonEnv(extra));

  test('validate passes every check it can make on Linux', async () => {
    const { code, stdout } = await inWorld(['validate']);
    expect(stdout).toMatch(/^ok {3}tart: version 2\.32\.1/m);
    expect(stdout).toMatch(/^ok {3}golden image: workhorse exists/m);
    expect(stdout).toMatch(/^ok {3}github runners:/m);
    expect(stdout).toMatch(/^ok {3}guest ssh:/m);
    expect(stdout).not.toMatch(/^FAIL/m);
    expect(code).toBe(0);
  });

  test('validate fails on a missing golden image and missing credentials, naming each', async () => {
    const { code, stdout } = await inWorld(['validate'], { TART_FLEET_VM_IMAGE: 'no-such-image', TART_FLEET_SSH_PASSWORD: '' });
    expect(code).toBe(1);
    expect(stdout).toMatch(/^FAIL golden image: no-such-image not found/m);
    expect(stdout).toMatch(/^FAIL guest ssh: no SSH credentials/m);
  });

  test('run --dry-run prints the plan and changes nothing; run --once carries it out', async () => {
    const id = world.queue('coder', { durationS: 400 });
    const dry = await inWorld(['run', '--dry-run']);
    expect(dry.code).toBe(0);
    const plan = JSON.parse(dry.stdout);
    expect(plan.actions).toEqual([expect.objectContaining({ kind: 'create', job_id: id, vm: `tf-sim-mac-coder-${id}` })]);
    expect(world.tartEvents()).toEqual([]);
    expect(world.github.runners()).toEqual([]);

    const once = await inWorld(['run', '--once']);
    expect(once.code).toBe(0);
    expect(world.github.job(id).status).toBe('in_progress');
    const ls = JSON.parse((await inWorld(['ls', '--json'])).stdout);
    expect(ls.vms).toEqual([expect.objectContaining({ name: `tf-sim-mac-coder-${id}`, profile: 'coder', state: 'running', job_id: id, repo: 'sim-org/app', ram_mb: 2048, cpu: 2 })]);
    expect(ls.vms[0].ip).toMatch(/^127\./);
    expect(ls.ledger).toEqual(expect.objectContaining({ used_mb: 2048, ceiling_mb: 12288, vms: 1, max_vms: 2 }));
  });

  test('secrets may come from files (TART_FLEET_GITHUB_TOKEN_FILE), as the LaunchDaemon passes them', async () => {
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, `${world.token}\n`, { mode: 0o600 });
    const { code, stdout } = await inWorld(['validate'], { TART_FLEET_GITHUB_TOKEN: '', TART_FLEET_GITHUB_TOKEN_FILE: tokenFile });
    expect(stdout).toMatch(/^ok {3}github runners:/m);
    expect(code).toBe(0);
  });
});
