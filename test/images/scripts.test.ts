// images/: the golden-image scripts cannot run on Linux, so they are linted (shellcheck), their pins
// checked, the Packer template cross-checked against the scripts, and start-jit-runner.sh is actually
// executed here against a fake run.sh to prove the contract tart-fleet relies on (per trust tier too).
// job-started-hook.sh is run by real bash (and jq) against crafted event payloads. Without shellcheck
// or jq those tests are reported as skipped; under CI they fail.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const IMAGES = fileURLToPath(new URL('../../images/', import.meta.url));
const START = join(IMAGES, 'guest', 'start-jit-runner.sh');
const HOOK = join(IMAGES, 'guest', 'job-started-hook.sh');
/** The variables start-jit-runner.sh decides per tier; the fake run.sh records each one it sees. */
const TIER_VARS = [
  'npm_config_cache', 'YARN_CACHE_FOLDER', 'PIP_CACHE_DIR', 'PIP_FIND_LINKS', 'HOMEBREW_CACHE', 'PUB_CACHE',
  'GRADLE_USER_HOME', 'GRADLE_RO_DEP_CACHE', 'TF_CACHE_DIR', 'TF_CACHE_RO_DIR', 'TF_TRUST', 'TF_CACHE',
  'ACTIONS_RUNNER_HOOK_JOB_STARTED', 'PATH',
];

function shellScripts(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return shellScripts(p);
    return e.name.endsWith('.sh') ? [p] : [];
  });
}

function shellcheckPath(): string | undefined {
  const found = spawnSync('sh', ['-c', 'command -v shellcheck'], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : undefined;
}

const scripts = shellScripts(IMAGES);
const shellcheck = shellcheckPath();
/** CI=true (or any value but false/0): tools the tests need are required, so a missing one fails instead of skipping. */
const inCI = !!process.env.CI && !/^(false|0)$/i.test(process.env.CI);

/** True once `path` exists, false if it still does not after `ms`. */
async function waitFor(path: string, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (existsSync(path)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return existsSync(path);
}

describe('images/ scripts', () => {
  test('there are provisioning scripts and start-jit-runner.sh', () => {
    const names = scripts.map((s) => relative(IMAGES, s)).sort();
    expect(names).toEqual(expect.arrayContaining(['guest/start-jit-runner.sh', 'build-workhorse.sh', 'scripts/30-actions-runner.sh']));
  });

  test.each(scripts.map((s) => [relative(IMAGES, s), s]))('%s: bash, strict mode, executable', (_name, path) => {
    const text = readFileSync(path, 'utf8');
    expect(text.split('\n')[0]).toMatch(/^#!\/bin\/bash$|^#!\/usr\/bin\/env bash$/);
    expect(text).toMatch(/^set -euo pipefail$/m);
    expect(spawnSync('test', ['-x', path]).status).toBe(0);
  });

  // Without shellcheck the lint is reported as skipped, never as passed; under CI it is required.
  (inCI || shellcheck ? test : test.skip)('shellcheck is installed (CI must provide it: .ci/run installs it)', () => {
    expect(shellcheck).toEqual(expect.any(String));
  });

  (shellcheck ? test : test.skip)('every script passes shellcheck', () => {
    const result = spawnSync(shellcheck!, ['--shell=bash', '--severity=style', ...scripts], { encoding: 'utf8' });
    expect(result.stdout + result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  test('the runner is pinned at >= 2.329.0 with a SHA-256, downloaded from the official release URL', () => {
    const text = readFileSync(join(IMAGES, 'scripts', '30-actions-runner.sh'), 'utf8');
    const version = /^PINNED_VERSION="(\d+)\.(\d+)\.(\d+)"$/m.exec(text);
    expect(version).not.toBeNull();
    const [major, minor, patch] = version!.slice(1).map(Number) as [number, number, number];
    // GitHub refuses to register older runners from 25 Sep 2026.
    expect(major * 1e6 + minor * 1e3 + patch).toBeGreaterThanOrEqual(2 * 1e6 + 329 * 1e3);
    expect(text).toMatch(/^PINNED_SHA256="[0-9a-f]{64}"$/m);
    expect(text).toContain('https://github.com/actions/runner/releases/download/v${RUNNER_VERSION}/actions-runner-osx-arm64-${RUNNER_VERSION}.tar.gz');
    expect(text).toMatch(/shasum -a 256 -c/);
  });

  test('the Packer template runs exactly the numbered scripts that exist, in order', () => {
    const hcl = readFileSync(join(IMAGES, 'workhorse.pkr.hcl'), 'utf8');
    const referenced = [...hcl.matchAll(/scripts\/(\d\d-[\w-]+\.sh)/g)].map((m) => m[1]);
    const present = readdirSync(join(IMAGES, 'scripts')).filter((n) => /^\d\d-.*\.sh$/.test(n)).sort();
    expect(referenced).toEqual(present);
    expect(hcl).toContain('${path.root}/guest');
    expect(existsSync(join(IMAGES, 'guest', 'start-jit-runner.sh'))).toBe(true);
  });

  test('start-jit-runner.sh takes the config from stdin only', () => {
    const text = readFileSync(START, 'utf8');
    expect(text).toMatch(/jit_config="\$\(cat\)"/);
    expect(text).not.toMatch(/--jitconfig/);
    expect(text).not.toMatch(/export ACTIONS_RUNNER_INPUT_JITCONFIG/);
    expect(text).toContain('/Users/admin/actions-runner');
    expect(text).toContain('sudo /sbin/shutdown -h now');
  });
});

describe('start-jit-runner.sh, executed against a fake run.sh', () => {
  const CONFIG = 'eyJydW5uZXIiOiJ0Zi1jb2Rlci00MjQyIn0K' + 'A'.repeat(400) + '==';
  const roots: string[] = [];
  afterAll(() => {
    for (const r of roots) rmSync(r, { recursive: true, force: true });
  });

  function fakeGuest() {
    const root = mkdtempSync(join(tmpdir(), 'tf-guest-'));
    roots.push(root);
    const runner = join(root, 'actions-runner');
    const cache = join(root, 'cache');
    mkdirSync(runner);
    mkdirSync(cache);
    // Records what the runner would see, then stays up a while like a runner waiting for a job.
    writeFileSync(
      join(runner, 'run.sh'),
      [
        '#!/bin/bash',
        'out="$(dirname "$0")/.."',
        'printf "%s" "${ACTIONS_RUNNER_INPUT_JITCONFIG:-}" > "$out/seen-env"',
        'printf "%s\\n" "$0" "$@" > "$out/seen-argv"',
        'printf "%s" "${npm_config_cache:-}" > "$out/seen-npm-cache"',
        `for v in ${TIER_VARS.join(' ')}; do if [ -n "\${!v+x}" ]; then printf "%s=%s\\n" "$v" "\${!v}"; fi; done > "$out/seen-vars"`,
        // The supervisor (our parent) must not carry the config in its own environment.
        'if [ -r "/proc/$PPID/environ" ]; then tr "\\0" "\\n" < "/proc/$PPID/environ" | grep -c "^ACTIONS_RUNNER_INPUT_JITCONFIG=" > "$out/parent-has-config"; fi',
        // Everything above is complete once this marker exists, so the test never reads a half-written file.
        'touch "$out/seen-done"',
        // The runner "works" until the test releases it, so returning early proves detachment, not speed.
        'until [ -e "$out/release" ]; do sleep 0.05; done',
        'exit 0',
        '',
      ].join('\n'),
    );
    chmodSync(join(runner, 'run.sh'), 0o755);
    // 30-actions-runner.sh installs the hook beside run.sh.
    writeFileSync(join(runner, 'job-started-hook.sh'), readFileSync(HOOK));
    chmodSync(join(runner, 'job-started-hook.sh'), 0o755);
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      TF_GUEST_RUNNER_DIR: runner,
      TF_GUEST_CACHE_DIR: cache,
      TF_GUEST_SHUTDOWN_COMMAND: `touch '${join(root, 'powered-off')}'`,
    };
    return { root, runner, cache, env };
  }

  /** Runs the script like sshd would: stdin piped in, stdout/stderr piped out; resolves when all close. */
  function runStart(env: NodeJS.ProcessEnv, stdin: string) {
    return new Promise<{ code: number | null; stdout: string; stderr: string; ms: number }>((resolve, reject) => {
      const started = Date.now();
      const child = spawn('bash', [START], { env, stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += String(d)));
      child.stderr.on('data', (d: Buffer) => (stderr += String(d)));
      child.on('error', reject);
      // 'close' waits for every holder of the pipes: a detached child that kept them would delay it.
      child.on('close', (code) => resolve({ code, stdout, stderr, ms: Date.now() - started }));
      child.stdin.end(stdin);
    });
  }

  test('returns at once with exit 0; run.sh gets the config in ACTIONS_RUNNER_INPUT_JITCONFIG, never in argv; the guest powers off after', async () => {
    const g = fakeGuest();
    const result = await runStart(g.env, `${CONFIG}\n`);
    expect(result.code).toBe(0);
    // run.sh cannot exit before the release file exists: the script's pipes closing now proves the
    // runner was detached from the SSH session.
    expect(result.stdout + result.stderr).not.toContain(CONFIG.slice(0, 20));
    expect(existsSync(join(g.root, 'powered-off'))).toBe(false);

    expect(await waitFor(join(g.root, 'seen-done'), 20_000)).toBe(true);
    expect(readFileSync(join(g.root, 'seen-env'), 'utf8')).toBe(CONFIG);
    const argv = readFileSync(join(g.root, 'seen-argv'), 'utf8');
    expect(argv).not.toContain(CONFIG.slice(0, 20));
    expect(argv.trim()).toBe('./run.sh');
    expect(readFileSync(join(g.root, 'seen-npm-cache'), 'utf8')).toBe(join(g.cache, 'npm'));
    if (process.platform === 'linux') {
      expect(existsSync(join(g.root, 'parent-has-config'))).toBe(true);
      expect(readFileSync(join(g.root, 'parent-has-config'), 'utf8').trim()).toBe('0');
    }

    // When the runner exits, the supervisor runs the shutdown command.
    writeFileSync(join(g.root, 'release'), '');
    expect(await waitFor(join(g.root, 'powered-off'), 20_000)).toBe(true);
    const log = readFileSync(join(g.runner, '_diag', 'start-jit-runner.log'), 'utf8');
    expect(log).toMatch(/run\.sh exited with 0; powering off/);
    expect(log).not.toContain(CONFIG.slice(0, 20));
  });

  test('no config on stdin: exit 2, nothing started', async () => {
    const g = fakeGuest();
    const result = await runStart(g.env, '\n');
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/no JIT config on stdin/);
    await new Promise((r) => setTimeout(r, 300));
    expect(existsSync(join(g.root, 'seen-env'))).toBe(false);
  });

  test('something that is not a config: exit 2 without echoing it', async () => {
    const g = fakeGuest();
    const result = await runStart(g.env, 'not base64; rm -rf / $(id) secret-ish\n');
    expect(result.code).toBe(2);
    expect(result.stderr).not.toContain('secret-ish');
  });

  test('run.sh missing (runner not installed): exit 3 naming the path', async () => {
    const g = fakeGuest();
    const result = await runStart({ ...g.env, TF_GUEST_RUNNER_DIR: join(g.root, 'nowhere') }, CONFIG);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain(join(g.root, 'nowhere', 'run.sh'));
  });

  test('a second start while the runner is up: exit 4', async () => {
    const g = fakeGuest();
    const first = await runStart(g.env, CONFIG);
    expect(first.code).toBe(0);
    expect(await waitFor(join(g.runner, '.jit-runner.pid'), 20_000)).toBe(true);
    const second = await runStart(g.env, CONFIG);
    expect(second.code).toBe(4);
    writeFileSync(join(g.root, 'release'), '');
    expect(await waitFor(join(g.root, 'powered-off'), 20_000)).toBe(true);
  });
});

describe('start-jit-runner.sh per trust tier (TF_TRUST, TF_CACHE) and PATH', () => {
  const CONFIG = 'eyJydW5uZXIiOiJ0Zi1wci00MjQyIn0K' + 'B'.repeat(200);
  const roots: string[] = [];
  afterAll(() => {
    for (const r of roots) rmSync(r, { recursive: true, force: true });
  });

  /** A guest with a runner dir, the hook, and a cache share holding pip wheels and a read-only Gradle cache. */
  function guest(opts: { share?: boolean; hook?: boolean } = {}) {
    const root = mkdtempSync(join(tmpdir(), 'tf-tier-'));
    roots.push(root);
    const runner = join(root, 'actions-runner');
    const cache = join(root, 'cache');
    mkdirSync(runner);
    if (opts.share ?? true) {
      mkdirSync(join(cache, 'pip-wheels'), { recursive: true });
      mkdirSync(join(cache, 'gradle-ro', 'modules-2'), { recursive: true });
    }
    writeFileSync(
      join(runner, 'run.sh'),
      [
        '#!/bin/bash',
        'out="$(dirname "$0")/.."',
        `for v in ${TIER_VARS.join(' ')}; do if [ -n "\${!v+x}" ]; then printf "%s=%s\\n" "$v" "\${!v}"; fi; done > "$out/seen-vars"`,
        'touch "$out/seen-done"',
        'exit 0',
        '',
      ].join('\n'),
    );
    chmodSync(join(runner, 'run.sh'), 0o755);
    if (opts.hook ?? true) writeFileSync(join(runner, 'job-started-hook.sh'), readFileSync(HOOK));
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      TF_GUEST_RUNNER_DIR: runner,
      TF_GUEST_CACHE_DIR: cache,
      TF_GUEST_SHUTDOWN_COMMAND: `touch '${join(root, 'powered-off')}'`,
    };
    return { root, runner, cache, env };
  }

  function start(env: NodeJS.ProcessEnv) {
    const r = spawnSync('bash', [START], { env, input: `${CONFIG}\n`, encoding: 'utf8', timeout: 60_000 });
    return { code: r.status, stderr: r.stderr };
  }

  /** Starts the runner and returns the tier variables run.sh saw (name → value). */
  async function seen(g: ReturnType<typeof guest>, tier: NodeJS.ProcessEnv): Promise<Record<string, string>> {
    const r = start({ ...g.env, ...tier });
    expect(r).toEqual({ code: 0, stderr: '' });
    expect(await waitFor(join(g.root, 'seen-done'), 20_000)).toBe(true);
    expect(await waitFor(join(g.root, 'powered-off'), 20_000)).toBe(true);
    const lines = readFileSync(join(g.root, 'seen-vars'), 'utf8').split('\n').filter(Boolean);
    return Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  }

  const writable = (cache: string) => ({
    npm_config_cache: join(cache, 'npm'), YARN_CACHE_FOLDER: join(cache, 'yarn'), PIP_CACHE_DIR: join(cache, 'pip'),
    HOMEBREW_CACHE: join(cache, 'homebrew'), PUB_CACHE: join(cache, 'pub'), TF_CACHE_DIR: cache,
  });
  const WRITE_VARS = ['npm_config_cache', 'YARN_CACHE_FOLDER', 'PIP_CACHE_DIR', 'HOMEBREW_CACHE', 'PUB_CACHE', 'TF_CACHE_DIR'];

  test('no TF_TRUST/TF_CACHE (an older host): trusted rw, tools share the cache, Gradle home stays in the VM', async () => {
    const g = guest();
    const vars = await seen(g, {});
    expect(vars).toMatchObject({ ...writable(g.cache), TF_TRUST: 'trusted', TF_CACHE: 'rw', GRADLE_RO_DEP_CACHE: join(g.cache, 'gradle-ro') });
    expect(vars.GRADLE_USER_HOME).toBeUndefined();
    expect(vars.ACTIONS_RUNNER_HOOK_JOB_STARTED).toBe(join(g.runner, 'job-started-hook.sh'));
    // The SSH session's PATH has no Homebrew; the runner's does.
    expect(vars.PATH!.split(':').slice(0, 2)).toEqual(['/opt/homebrew/bin', '/opt/homebrew/sbin']);
  });

  test.each([
    ['trusted', 'ro', 'ro'],
    ['untrusted', 'ro', 'ro'],
    // An untrusted VM never points tools at a shared read-write cache: rw is read as ro.
    ['untrusted', 'rw', 'ro'],
  ])('TF_TRUST=%s TF_CACHE=%s: the share is only read (pip wheels, Gradle read-only cache); caches stay in the VM', async (trust, cache, effective) => {
    const g = guest();
    const vars = await seen(g, { TF_TRUST: trust, TF_CACHE: cache });
    expect(vars).toMatchObject({
      TF_TRUST: trust, TF_CACHE: effective, TF_CACHE_RO_DIR: g.cache,
      PIP_FIND_LINKS: join(g.cache, 'pip-wheels'), GRADLE_RO_DEP_CACHE: join(g.cache, 'gradle-ro'),
    });
    for (const v of [...WRITE_VARS, 'GRADLE_USER_HOME']) expect({ v, value: vars[v] }).toEqual({ v, value: undefined });
  });

  test('TF_CACHE=clone (a private copy made for this job): tools use it read-write, except the Gradle home', async () => {
    const g = guest();
    const vars = await seen(g, { TF_TRUST: 'untrusted', TF_CACHE: 'clone' });
    expect(vars).toMatchObject({ ...writable(g.cache), TF_TRUST: 'untrusted', TF_CACHE: 'clone' });
    expect(vars.GRADLE_USER_HOME).toBeUndefined();
    expect(vars.TF_CACHE_RO_DIR).toBeUndefined();
  });

  test('TF_CACHE=none ignores a share that is there anyway; a missing share is none whatever was asked', async () => {
    const g = guest();
    const none = await seen(g, { TF_TRUST: 'untrusted', TF_CACHE: 'none' });
    expect(none).toMatchObject({ TF_CACHE: 'none', TF_TRUST: 'untrusted' });
    for (const v of [...WRITE_VARS, 'TF_CACHE_RO_DIR', 'PIP_FIND_LINKS', 'GRADLE_RO_DEP_CACHE']) expect({ v, value: none[v] }).toEqual({ v, value: undefined });

    const bare = guest({ share: false });
    expect(await seen(bare, { TF_TRUST: 'trusted', TF_CACHE: 'rw' })).toMatchObject({ TF_CACHE: 'none' });
  });

  test('cache variables from the SSH environment are not inherited: GRADLE_USER_HOME in the share is dropped', async () => {
    const g = guest();
    const vars = await seen(g, { TF_TRUST: 'untrusted', TF_CACHE: 'ro', GRADLE_USER_HOME: join(g.cache, 'gradle'), npm_config_cache: join(g.cache, 'npm') });
    expect(vars.GRADLE_USER_HOME).toBeUndefined();
    expect(vars.npm_config_cache).toBeUndefined();
  });

  test('an unknown TF_TRUST or TF_CACHE: exit 5, nothing started', async () => {
    for (const tier of [{ TF_TRUST: 'maybe' }, { TF_CACHE: 'rwx' }, { TF_TRUST: 'Trusted' }]) {
      const g = guest();
      const r = start({ ...g.env, ...tier });
      expect(r.code).toBe(5);
      expect(r.stderr).toMatch(/TF_(TRUST|CACHE) must be/);
      expect(existsSync(join(g.root, 'seen-vars'))).toBe(false);
    }
  });

  test('an image without the job-started hook: exit 3 naming it, nothing started', () => {
    const g = guest({ hook: false });
    const r = start(g.env);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(join(g.runner, 'job-started-hook.sh'));
    expect(existsSync(join(g.root, 'seen-vars'))).toBe(false);
  });

  test("30-actions-runner.sh installs the hook and puts Homebrew's PATH into the runner's .env", () => {
    const text = readFileSync(join(IMAGES, 'scripts', '30-actions-runner.sh'), 'utf8');
    expect(text).toMatch(/^PATH=\/opt\/homebrew\/bin:\/opt\/homebrew\/sbin:\/usr\/local\/bin:\/usr\/bin:\/bin:\/usr\/sbin:\/sbin$/m);
    expect(text).toMatch(/install -m 0755 "\$HOOK_SCRIPT" "\$RUNNER_DIR\/job-started-hook\.sh"/);
    expect(text).toContain('$HERE/../guest/job-started-hook.sh');
  });
});

describe('job-started-hook.sh, run by bash against crafted event payloads', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tf-hook-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const jq = spawnSync('sh', ['-c', 'command -v jq'], { encoding: 'utf8' }).status === 0;
  const inCI = !!process.env.CI && !/^(false|0)$/i.test(process.env.CI);

  const repo = (name: string | null) => (name === null ? null : { full_name: name });
  function event(name: string, body: unknown): string {
    const path = join(dir, `${name}.json`);
    writeFileSync(path, JSON.stringify(body));
    return path;
  }
  const pr = (head: string | null, base = 'acme/app') => ({
    action: 'opened', repository: repo(base),
    pull_request: { number: 7, head: { ref: 'feature', repo: repo(head) }, base: { ref: 'main', repo: repo(base) } },
  });
  const files = {
    push: event('push', { ref: 'refs/heads/main', repository: repo('acme/app') }),
    same: event('same', pr('acme/app')),
    fork: event('fork', pr('stranger/app')),
    gone: event('gone', pr(null)),
    runSame: event('run-same', { repository: repo('acme/app'), workflow_run: { event: 'push', head_repository: repo('acme/app') } }),
    runFork: event('run-fork', { repository: repo('acme/app'), workflow_run: { event: 'pull_request', head_repository: repo('stranger/app') } }),
    broken: (() => {
      const p = join(dir, 'broken.json');
      writeFileSync(p, '{"pull_request": {"head": ');
      return p;
    })(),
  };

  function hook(env: NodeJS.ProcessEnv) {
    const r = spawnSync('bash', [HOOK], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, encoding: 'utf8' });
    return { code: r.status, out: r.stdout + r.stderr };
  }

  (inCI || jq ? test : test.skip)('jq is installed (macOS 15 ships it; CI must provide it)', () => {
    expect(jq).toBe(true);
  });

  (jq ? test.each : test.skip.each)([
    ['trusted', 'push', 'push', 0],
    ['trusted', 'pull_request', 'same', 0],
    ['trusted', 'pull_request', 'fork', 1],
    ['trusted', 'pull_request_review', 'fork', 1],
    ['trusted', 'pull_request_review_comment', 'fork', 1],
    ['trusted', 'pull_request_review', 'same', 0],
    ['trusted', 'pull_request', 'gone', 1],
    ['trusted', 'pull_request_target', 'same', 1],
    ['trusted', 'pull_request_target', 'fork', 1],
    ['trusted', 'workflow_run', 'runFork', 1],
    ['trusted', 'workflow_run', 'runSame', 0],
    ['trusted', 'pull_request', 'broken', 1],
    ['', 'pull_request', 'fork', 1], // TF_TRUST unset reads as trusted
    ['untrusted', 'pull_request', 'fork', 0],
    ['untrusted', 'pull_request_target', 'fork', 0],
  ] as const)('TF_TRUST=%s, %s event (%s payload): exit %d', (trust, name, payload, code) => {
    const env: NodeJS.ProcessEnv = { GITHUB_EVENT_NAME: name, GITHUB_EVENT_PATH: files[payload] };
    if (trust !== '') env.TF_TRUST = trust;
    const r = hook(env);
    expect({ code: r.code, out: r.out }).toEqual({ code, out: expect.any(String) });
    if (code === 1) expect(r.out).toMatch(/^::error::tart-fleet: this runner is in the trusted tier and does not run /m);
    if (name === 'pull_request' && payload === 'fork') {
      expect(r.out).toContain(trust === 'untrusted' ? 'untrusted tier' : 'from stranger/app into acme/app');
    }
  });

  test('a trusted VM refuses when the event cannot be known: no event name, no payload, or no JSON reader', () => {
    expect(hook({ TF_TRUST: 'trusted', GITHUB_EVENT_PATH: files.fork }).code).toBe(1);
    expect(hook({ TF_TRUST: 'trusted', GITHUB_EVENT_NAME: 'pull_request', GITHUB_EVENT_PATH: join(dir, 'missing.json') }).code).toBe(1);
    expect(hook({ TF_TRUST: 'trusted', GITHUB_EVENT_NAME: 'pull_request' }).code).toBe(1);
    // PATH with neither jq nor plutil: bash's builtins only.
    const empty = mkdtempSync(join(dir, 'path-'));
    const bash = spawnSync('sh', ['-c', 'command -v bash'], { encoding: 'utf8' }).stdout.trim();
    const r = spawnSync(bash, [HOOK], {
      env: { PATH: empty, TF_TRUST: 'trusted', GITHUB_EVENT_NAME: 'pull_request', GITHUB_EVENT_PATH: files.same },
      encoding: 'utf8',
    });
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/neither jq nor plutil/);
  });
});
