// Files at rest (audit turn4-security N7, N8, N12): the daemon's files are 0600 in a 0700 state dir
// it owns; a symlink planted in the state dir is never written through; a secret file (the App key
// path included) that is a symlink, another user's, or readable by others is refused at every start.
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import { jest } from '@jest/globals';
import { writeFileAtomic } from '../../src/adapters/atomic-write.js';
import { githubAuthFromEnv } from '../../src/adapters/github-auth.js';
import { createLogger } from '../../src/adapters/logger.js';
import { ensurePrivateDir } from '../../src/adapters/private-dir.js';
import { stateDirCheck } from '../../src/cli/isolation-checks.js';
import { PACKAGE_ROOT } from '../../src/config/package.js';
import { Secrets } from '../../src/secrets/redact.js';
import { readSecret } from '../../src/secrets/secret-files.js';
import { problemsOf } from '../config/problems.js';

jest.setTimeout(60_000);
const fresh = () => mkdtempSync(join(tmpdir(), 'tf-rest-'));
const mode = (p: string) => statSync(p).mode & 0o777;
/** Another user's uid, for ownership checks: only root can hand a file to someone else. */
const NOBODY = 65534;
const asRoot = process.getuid?.() === 0;

describe('atomic writes never follow a planted symlink', () => {
  test('a symlink at the old predictable temp name (.<file>.<pid>.tmp) is neither written through nor chmod-ed', () => {
    const dir = fresh();
    const victim = join(dir, 'app.pem');
    writeFileSync(victim, 'KEY', { mode: 0o600 });
    symlinkSync(victim, join(dir, `.status.json.${process.pid}.tmp`));
    writeFileAtomic(join(dir, 'status.json'), '{"snapshot":true}\n');
    expect(readFileSync(victim, 'utf8')).toBe('KEY');
    expect(mode(victim)).toBe(0o600);
    expect(readFileSync(join(dir, 'status.json'), 'utf8')).toBe('{"snapshot":true}\n');
    expect(mode(join(dir, 'status.json'))).toBe(0o600);
  });

  test('a symlink planted at the target name is replaced, not followed', () => {
    const dir = fresh();
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'KEEP', { mode: 0o600 });
    symlinkSync(victim, join(dir, 'memory.json'));
    writeFileAtomic(join(dir, 'memory.json'), '{}\n');
    expect(readFileSync(victim, 'utf8')).toBe('KEEP');
    expect(lstatSync(join(dir, 'memory.json')).isSymbolicLink()).toBe(false);
    // No temp file is left behind.
    expect(readdirSync(dir).sort()).toEqual(['memory.json', 'victim']);
  });
});

describe('the state dir is private', () => {
  test('created 0700; an existing one writable by group or others is refused, naming the field and the fix', () => {
    const dir = fresh();
    const state = join(dir, 'a', 'state');
    ensurePrivateDir(state, 'host.state_dir');
    expect(mode(state)).toBe(0o700);
    chmodSync(state, 0o775);
    expect(problemsOf(() => ensurePrivateDir(state, 'host.state_dir'))).toEqual([expect.stringMatching(/^host\.state_dir: .* can be written by its group \(mode 0775\).*: chmod 700 /)]);
    chmodSync(state, 0o777);
    expect(problemsOf(() => ensurePrivateDir(state, 'host.state_dir'))).toEqual([expect.stringMatching(/can be written by every user \(mode 0777\)/)]);
  });

  (asRoot ? test : test.skip)("one owned by another user is refused (needs root to hand it over)", () => {
    const state = join(fresh(), 'state');
    mkdirSync(state, { mode: 0o700 });
    chownSync(state, NOBODY, NOBODY);
    expect(problemsOf(() => ensurePrivateDir(state, 'host.state_dir'))).toEqual([expect.stringMatching(/^host\.state_dir: .* is owned by uid 65534, not by the daemon's user/)]);
  });

  test('`run` refuses to start (exit 2) on a world-writable state dir (the real bin)', async () => {
    const dir = fresh();
    writeFileSync(join(dir, 'pipeline.yml'), 'github: { org: acme, runner_name: m }\nhost: { total_ram_mb: 16384, state_dir: ./state }\nprofiles:\n  coder: { ram_mb: 2048, cpu: 2, timeout_minutes: 60 }\n');
    mkdirSync(join(dir, 'state'));
    chmodSync(join(dir, 'state'), 0o777);
    const clean: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('TART_FLEET_') && k !== 'GITHUB_TOKEN') clean[k] = v;
    const r = await promisify(execFile)(process.execPath, [join(PACKAGE_ROOT, 'bin', 'tart-fleet.js'), 'run', '--once'], { cwd: dir, env: { ...clean, HOME: dir, TART_FLEET_TART_BIN: '/nonexistent/tart' } })
      .then(() => ({ code: 0, stderr: '' }), (e: { code: number; stderr: string }) => e);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/host\.state_dir: .* can be written by every user \(mode 0777\)/);
  });
});

describe('logs are 0600', () => {
  test('the daemon log file, also one an older version left 0644', () => {
    const dir = fresh();
    const path = join(dir, 'logs', 'tart-fleet.log');
    mkdirSync(join(dir, 'logs'));
    writeFileSync(path, '', { mode: 0o644 });
    chmodSync(path, 0o644);
    const log = createLogger({ level: 'info', secrets: new Secrets(), stream: new PassThrough(), file: { path } });
    log.info('hello', { repo: 'acme/private-thing' });
    expect(mode(path)).toBe(0o600);
  });
});

describe('secret files: symlinks, other owners and loose modes are refused, the App key at every start', () => {
  test('a _FILE secret that is a symlink is refused, naming the variable and the fix', () => {
    const dir = fresh();
    writeFileSync(join(dir, 'real'), 'ghp_x', { mode: 0o600 });
    symlinkSync(join(dir, 'real'), join(dir, 'token'));
    expect(() => readSecret({ TART_FLEET_GITHUB_TOKEN_FILE: join(dir, 'token') }, 'TART_FLEET_GITHUB_TOKEN')).toThrow(/^TART_FLEET_GITHUB_TOKEN_FILE: .*token is a symbolic link; refusing to follow it/);
  });

  (asRoot ? test : test.skip)("a _FILE secret owned by another user is refused (needs root to hand it over)", () => {
    const dir = fresh();
    writeFileSync(join(dir, 'token'), 'ghp_x', { mode: 0o600 });
    chownSync(join(dir, 'token'), NOBODY, NOBODY);
    expect(() => readSecret({ TART_FLEET_SSH_PASSWORD_FILE: join(dir, 'token') }, 'TART_FLEET_SSH_PASSWORD')).toThrow(/^TART_FLEET_SSH_PASSWORD_FILE: .* is owned by uid 65534, not by the daemon's user/);
  });

  test('the GitHub App key path is checked whenever credentials are read (not only by launchd --install)', () => {
    const dir = fresh();
    const pem = join(dir, 'app.pem');
    writeFileSync(pem, '-----BEGIN RSA PRIVATE KEY-----\nx\n-----END RSA PRIVATE KEY-----\n', { mode: 0o644 });
    chmodSync(pem, 0o644);
    const env = { TART_FLEET_GITHUB_APP_ID: '1', TART_FLEET_GITHUB_APP_INSTALLATION_ID: '2', TART_FLEET_GITHUB_APP_PRIVATE_KEY: pem };
    expect(() => githubAuthFromEnv(env)).toThrow(/^TART_FLEET_GITHUB_APP_PRIVATE_KEY: .*app\.pem can be read by other users \(mode 0644\); refusing to use it: chmod 600/);
    const link = join(dir, 'key-link.pem');
    chmodSync(pem, 0o600);
    symlinkSync(pem, link);
    expect(() => githubAuthFromEnv({ ...env, TART_FLEET_GITHUB_APP_PRIVATE_KEY: link })).toThrow(/is a symbolic link/);
    expect(githubAuthFromEnv(env)).toMatchObject({ kind: 'app', appId: 1, installationId: 2 });
  });
});

test('validate FAILs a state dir others can write, with the fix', () => {
  const state = join(fresh(), 'state');
  expect(stateDirCheck(state)).toMatchObject({ status: 'ok', detail: expect.stringMatching(/will create it \(mode 0700\)/) });
  mkdirSync(state, { mode: 0o700 });
  chmodSync(state, 0o757);
  expect(stateDirCheck(state)).toMatchObject({ status: 'fail', detail: expect.stringMatching(/^host\.state_dir: .* can be written by every user .*chmod 700/) });
});
