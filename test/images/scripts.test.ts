// images/: the golden-image scripts cannot run on Linux, so they are linted (shellcheck), their pins
// checked, the Packer template cross-checked against the scripts, and start-jit-runner.sh is actually
// executed here against a fake run.sh to prove the contract tart-fleet relies on.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const IMAGES = fileURLToPath(new URL('../../images/', import.meta.url));
const START = join(IMAGES, 'guest', 'start-jit-runner.sh');

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

  async function waitFor(path: string, ms: number): Promise<boolean> {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      if (existsSync(path)) return true;
      await new Promise((r) => setTimeout(r, 50));
    }
    return existsSync(path);
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
