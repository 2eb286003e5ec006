// Tier separation by what the file system says (src/config/isolation.ts). The audit
// (shared/reference/audits/turn4-security.md N1) planted an npx package in a trusted cache through
// an untrusted cache dir that was a parent of it, and read the trusted gradle.properties through an
// untrusted `ro .`: both configs loaded and validated. Each layout below is refused: the ones the
// paths show by the loader (every command), the ones only the disk shows by `validate` and `run`.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { jest } from '@jest/globals';
import { loadConfig } from '../../src/config/load.js';
import { assertIsolatedOnDisk, diskProbe, within } from '../../src/config/isolation.js';
import { PACKAGE_ROOT } from '../../src/config/package.js';
import { isolationChecks } from '../../src/cli/isolation-checks.js';
import { problemsOf } from './problems.js';

jest.setTimeout(60_000);
const GiB = 1024 ** 3;
const execFileP = promisify(execFile);

function fresh(): string {
  return mkdtempSync(join(tmpdir(), 'tf-iso-'));
}

/** A pipeline.yml with a trusted `coder` profile and an untrusted `pr` profile. */
function layout(dir: string, coder: string, pr: string, host = ''): string {
  const p = join(dir, 'pipeline.yml');
  writeFileSync(p, [
    'github: { org: acme, runner_name: m }',
    `host: { total_ram_mb: 16384${host} }`,
    'profiles:',
    `  coder: { ram_mb: 4096, cpu: 2, timeout_minutes: 60${coder} }`,
    `  pr: { ram_mb: 4096, cpu: 2, timeout_minutes: 30, trust: untrusted, runner_group_id: 2${pr} }`,
    '',
  ].join('\n'));
  return p;
}

function load(dir: string, env: NodeJS.ProcessEnv = {}) {
  return loadConfig({ path: join(dir, 'pipeline.yml'), env: { HOME: dir, ...env }, cwd: dir, hostname: 'm', totalMemBytes: 16 * GiB });
}

describe('the loader refuses what the paths show', () => {
  test.each([
    ['nested: untrusted clone of a dir inside the trusted cache', ', cache_dir: ./cache', ', cache: clone, cache_dir: ./cache/pr', /is inside the cache dir of trusted profile coder/],
    ['parent: untrusted rw ./shared above trusted ./shared/trusted', ', cache_dir: ./shared/trusted', ', cache: rw, cache_dir: ./shared', /contains the cache dir of trusted profile coder/],
    ['parent: untrusted ro . (the whole config dir)', ', cache_dir: ./cache', ', cache: ro, cache_dir: .', /contains the cache dir of trusted profile coder/],
    ['case variant: ./CACHE is ./cache on APFS', ', cache_dir: ./cache', ', cache: ro, cache_dir: ./CACHE', /would see the cache dir of trusted profile coder .*letter case/],
    ['dot-dot: ./cache/../cache', ', cache_dir: ./cache', ', cache: ro, cache_dir: ./cache/../cache', /would see the cache dir of trusted profile coder/],
  ])('%s', (_what, coder, pr, message) => {
    const dir = fresh();
    layout(dir, coder, pr);
    const problems = problemsOf(() => load(dir));
    expect(problems).toEqual(expect.arrayContaining([expect.stringMatching(new RegExp(`^profiles\\.pr\\.cache_dir: .*${message.source}`))]));
    expect(problems.every((p) => /; (set|move) profiles\./.test(p))).toBe(true);
  });

  test('no cache share may hold or sit in the state dir, the log dir or TART_HOME, nor hold the config dir or a secret file', () => {
    const dir = fresh();
    layout(dir, ', cache_dir: ./cache', ', cache: clone, cache_dir: ./pr-cache', ', state_dir: ./cache/state');
    expect(problemsOf(() => load(dir))).toEqual([expect.stringMatching(/^profiles\.coder\.cache_dir: .* contains host\.state_dir .*; move profiles\.coder\.cache_dir/)]);

    layout(dir, ', cache_dir: ./logs/cache', ', cache: none');
    expect(problemsOf(() => load(dir))).toEqual([expect.stringMatching(/^profiles\.coder\.cache_dir: .* is inside host\.log_dir/)]);

    layout(dir, ', cache_dir: ./tart/cache', ', cache: none');
    expect(problemsOf(() => load(dir, { TART_HOME: join(dir, 'tart') }))).toEqual([expect.stringMatching(/^profiles\.coder\.cache_dir: .* is inside TART_HOME/)]);

    layout(dir, ', cache_dir: ./secrets', ', cache: none');
    expect(problemsOf(() => load(dir, { TART_FLEET_GITHUB_TOKEN_FILE: join(dir, 'secrets', 'token'), TART_FLEET_GITHUB_APP_PRIVATE_KEY: join(dir, 'secrets', 'app.pem') }))).toEqual([
      expect.stringMatching(/contains the secret file TART_FLEET_GITHUB_TOKEN_FILE/),
      expect.stringMatching(/contains the GitHub App key TART_FLEET_GITHUB_APP_PRIVATE_KEY/),
    ]);

    layout(dir, ', cache_dir: ..', ', cache: none');
    expect(problemsOf(() => load(dir))).toEqual(expect.arrayContaining([expect.stringMatching(/contains the config file's directory/)]));
  });

  test("the default layout (./cache beside pipeline.yml, the untrusted tier's own ./pr-cache) loads and passes on disk", () => {
    const dir = fresh();
    layout(dir, '', ', cache: clone, cache_dir: ./pr-cache');
    mkdirSync(join(dir, 'cache'));
    mkdirSync(join(dir, 'pr-cache'));
    const { config } = load(dir);
    expect(isolationChecks(config, { HOME: dir })).toEqual([expect.objectContaining({ status: 'ok', what: 'isolation' })]);
  });
});

describe('validate and run refuse what only the disk shows', () => {
  test('a symlink to the trusted cache passes the loader but not validate or run', () => {
    const dir = fresh();
    mkdirSync(join(dir, 'cache'));
    symlinkSync('cache', join(dir, 'pr-link'));
    layout(dir, '', ', cache: ro, cache_dir: ./pr-link');
    const { config } = load(dir);
    expect(isolationChecks(config, { HOME: dir })).toEqual([
      expect.objectContaining({ status: 'fail', detail: expect.stringMatching(/^profiles\.pr\.cache_dir: untrusted profile pr would see the cache dir of trusted profile coder .*symlink/), fix: expect.stringMatching(/directory of its own/) }),
    ]);
    expect(problemsOf(() => assertIsolatedOnDisk(config, { HOME: dir }))).toEqual([expect.stringMatching(/^profiles\.pr\.cache_dir: /)]);
  });

  test('a symlinked parent, and a dangling link the daemon would bring to life, are followed', () => {
    const dir = fresh();
    mkdirSync(join(dir, 'shared', 'trusted'), { recursive: true });
    symlinkSync('shared', join(dir, 'pr-link'));
    symlinkSync(join(dir, 'state'), join(dir, 'later'));
    layout(dir, ', cache_dir: ./shared/trusted', ', cache: rw, cache_dir: ./pr-link');
    expect(isolationChecks(load(dir).config, { HOME: dir }).map((r) => r.detail)).toEqual([expect.stringMatching(/contains the cache dir of trusted profile coder/)]);
    layout(dir, ', cache_dir: ./later/cache', ', cache: none');
    expect(isolationChecks(load(dir).config, { HOME: dir }).map((r) => r.detail)).toEqual([expect.stringMatching(/^profiles\.coder\.cache_dir: .* is inside host\.state_dir/)]);
  });

  test('the same directory under two names is one inode', () => {
    const dir = fresh();
    mkdirSync(join(dir, 'a', 'b'), { recursive: true });
    symlinkSync(join(dir, 'a'), join(dir, 'x'));
    expect(within(diskProbe(join(dir, 'a', 'b')), diskProbe(join(dir, 'x')))).toBe(true);
    expect(within(diskProbe(join(dir, 'x')), diskProbe(join(dir, 'a', 'b')))).toBe(false);
  });

  test('`validate --config-only` FAILs with the fix and `run` exits 2 naming the field (the real bin)', async () => {
    const dir = fresh();
    mkdirSync(join(dir, 'cache'));
    symlinkSync('cache', join(dir, 'pr-link'));
    layout(dir, '', ', cache: ro, cache_dir: ./pr-link');
    const clean: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('TART_FLEET_') && k !== 'GITHUB_TOKEN') clean[k] = v;
    const cli = (args: string[]) => execFileP(process.execPath, [join(PACKAGE_ROOT, 'bin', 'tart-fleet.js'), ...args], { cwd: dir, env: { ...clean, HOME: dir, TART_FLEET_TART_BIN: '/nonexistent/tart' } })
      .then(({ stdout, stderr }) => ({ code: 0, stdout, stderr }), (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }));
    const v = await cli(['validate', '--config-only']);
    expect(v.code).toBe(1);
    expect(v.stdout).toMatch(/^FAIL isolation: profiles\.pr\.cache_dir: untrusted profile pr would see the cache dir of trusted profile coder .* — fix: set profiles\.pr\.cache_dir to a directory of its own/m);
    const r = await cli(['run', '--once']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/profiles\.pr\.cache_dir: untrusted profile pr would see the cache dir of trusted profile coder/);
  });
});
