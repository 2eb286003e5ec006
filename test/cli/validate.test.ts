// `validate` as a doctor, run as a user runs it (the real bin in a child process): it changes
// nothing on disk, reports every check even when a secret file is bad, says each piece of advice
// once, names network failures with a hint, refuses secret files others can read, and --json parses.
import { chmodSync, copyFileSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jest } from '@jest/globals';
import { PACKAGE_ROOT } from '../../src/config/package.js';
import { runBin } from './cli-helpers.js';

jest.setTimeout(90_000);

/** A fresh working directory holding the shipped pipeline.yml, as on a first day. */
function freshClone(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tf-validate-'));
  copyFileSync(join(PACKAGE_ROOT, 'pipeline.yml'), join(dir, 'pipeline.yml'));
  return dir;
}

async function cli(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const clean: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('TART_FLEET_') && k !== 'GITHUB_TOKEN' && !/proxy/i.test(k)) clean[k] = v;
  // No tart on this machine: point at one that does not exist, so the result does not depend on PATH.
  const base = { TART_FLEET_TART_BIN: '/nonexistent/tart', TART_FLEET_HOST_TOTAL_RAM_MB: '16384' };
  return runBin(args, { env: { ...clean, ...base, ...env }, cwd });
}

/** Every path under `dir` with its type, size and mtime: any creation or write changes it. */
function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const s = statSync(p);
      out.push(`${p} ${s.isDirectory() ? 'd' : 'f'} ${s.size} ${s.mtimeMs}`);
      if (s.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}

/** A port nothing listens on: bind one, note it, close it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

test('validate leaves the working directory unchanged (no cache/ or logs/ created)', async () => {
  const dir = freshClone();
  const before = tree(dir);
  const full = await cli(dir, ['validate']);
  const configOnly = await cli(dir, ['validate', '--config-only']);
  expect(tree(dir)).toEqual(before);
  expect(full.stdout).toMatch(/^ok {3}cache dir: .*cache does not exist yet; `run` will create it/m);
  expect(configOnly.stdout).toMatch(/^ok {3}log dir: .*logs does not exist yet/m);
  expect(configOnly.code).toBe(0);
});

test('a missing secret file is one FAIL among the rest, every other check still runs, and a summary ends it', async () => {
  const dir = freshClone();
  const { code, stdout } = await cli(dir, ['validate'], { TART_FLEET_SSH_PASSWORD_FILE: join(dir, 'nonexistent') });
  expect(code).toBe(1);
  expect(stdout).toMatch(/^FAIL secret: TART_FLEET_SSH_PASSWORD_FILE: cannot read .*nonexistent \(ENOENT\) — fix: /m);
  for (const what of ['config', 'ram ceiling', 'cache dir', 'log dir', 'tart', 'disk', 'github', 'guest ssh']) {
    expect(stdout).toMatch(new RegExp(`^(ok  |warn|FAIL) ${what}:`, 'm'));
  }
  expect(stdout.trim().split('\n').pop()).toMatch(/^\d+ FAIL, \d+ warn, \d+ ok$/);
  // --config-only checks the secret files too (they are environment, not tart or GitHub).
  const configOnly = await cli(dir, ['validate', '--config-only'], { TART_FLEET_GITHUB_TOKEN_FILE: join(dir, 'nonexistent') });
  expect(configOnly.stdout).toMatch(/^FAIL secret: TART_FLEET_GITHUB_TOKEN_FILE: cannot read/m);
  expect(configOnly.code).toBe(1);
});

test('a secret file other users can read is refused, naming the file and chmod 600', async () => {
  const dir = freshClone();
  const token = join(dir, 'token');
  writeFileSync(token, 'ghp_loosemode0123456789abcdefghijklmnopq\n');
  chmodSync(token, 0o644);
  const { code, stdout, stderr } = await cli(dir, ['validate', '--config-only'], { TART_FLEET_GITHUB_TOKEN_FILE: token });
  expect(stdout).toMatch(new RegExp(`^FAIL secret: TART_FLEET_GITHUB_TOKEN_FILE: ${token} can be read by other users \\(mode 0644\\); refusing to use it: chmod 600 ${token}`, 'm'));
  expect(stdout + stderr).not.toContain('ghp_loosemode');
  expect(code).toBe(1);
  chmodSync(token, 0o600);
  expect((await cli(dir, ['validate', '--config-only'], { TART_FLEET_GITHUB_TOKEN_FILE: token })).code).toBe(0);
});

test('the tart install advice is printed once, and not being on macOS is said', async () => {
  const { stdout } = await cli(freshClone(), ['validate'], { TART_FLEET_TART_BIN: '' });
  expect(stdout).toMatch(/^FAIL tart:/m);
  expect(stdout.split('brew install cirruslabs/cli/tart').length - 1).toBe(1);
  if (process.platform !== 'darwin') expect(stdout).toMatch(/^warn platform: not macOS \(\w+\): `run` needs a Mac with tart; `tart-fleet demo`/m);
});

test('GitHub unreachable: the github FAIL says where to look', async () => {
  const port = await closedPort();
  const { code, stdout } = await cli(freshClone(), ['validate'], { TART_FLEET_GITHUB_TOKEN: 'ghp_x', TART_FLEET_GITHUB_API_URL: `http://127.0.0.1:${port}` });
  expect(stdout).toMatch(/^FAIL github: .* — fix: cannot reach the GitHub API: check the network, the proxy \(HTTPS_PROXY, NO_PROXY\) and github\.api_url$/m);
  expect(code).toBe(1);
});

test('GitHub accepting connections but never answering: validate ends, the FAIL names the timeout and where to look', async () => {
  const sockets: import('node:net').Socket[] = [];
  const server = createServer((socket) => sockets.push(socket));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  try {
    const { code, stdout } = await cli(freshClone(), ['validate'], { TART_FLEET_GITHUB_TOKEN: 'ghp_x', TART_FLEET_GITHUB_API_URL: `http://127.0.0.1:${port}` });
    expect(stdout).toMatch(/^FAIL github: http:\/\/127\.0\.0\.1:\d+: no answer within 10 s \(timeout\); token and runner group not checked — fix: GitHub did not answer in 10 s: check the network, the proxy \(HTTPS_PROXY, NO_PROXY\) and github\.api_url$/m);
    expect(stdout).not.toMatch(/no GitHub credentials/);
    expect(stdout).toMatch(/^FAIL guest ssh:/m); // the checks after GitHub still ran
    expect(code).toBe(1);
  } finally {
    for (const s of sockets) s.destroy();
    server.close();
  }
});

test('--json prints one document with every check', async () => {
  const dir = freshClone();
  const { code, stdout } = await cli(dir, ['validate', '--json'], { TART_FLEET_SSH_PASSWORD_FILE: join(dir, 'nonexistent') });
  const doc = JSON.parse(stdout) as { schema_version: number; ok: boolean; counts: { fail: number }; checks: { status: string; what: string; detail: string; fix?: string }[] };
  expect(doc.schema_version).toBe(1);
  expect(doc.ok).toBe(false);
  expect(doc.counts.fail).toBe(doc.checks.filter((c) => c.status === 'fail').length);
  expect(doc.checks).toEqual(expect.arrayContaining([expect.objectContaining({ status: 'fail', what: 'secret', fix: expect.any(String) })]));
  expect(code).toBe(1);
});
