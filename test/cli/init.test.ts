// `tart-fleet init`: what it writes passes `validate --config-only` (both run as the real CLI), it
// never overwrites without --force, it asks only on a TTY, and it drops profiles this Mac cannot fit.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { jest } from '@jest/globals';
import { initCommand, runnerNameFrom } from '../../src/cli/init.js';
import type { CliContext } from '../../src/cli/context.js';
import { SimWorld } from '../../src/sim/world.js';
import { runBin, sink, withoutOurEnv } from './cli-helpers.js';

jest.setTimeout(60_000);

/** A working directory and a TART_HOME holding a golden image `workhorse` and one of our clones. */
function fresh(): { dir: string; tartHome: string } {
  const dir = mkdtempSync(join(tmpdir(), 'tf-init-'));
  const tartHome = join(dir, 'tart-home');
  mkdirSync(join(tartHome, 'vms', 'workhorse'), { recursive: true });
  mkdirSync(join(tartHome, 'vms', 'tf-mini-coder-1'), { recursive: true });
  return { dir, tartHome };
}

const cli = (cwd: string, args: string[], env: NodeJS.ProcessEnv = {}) => runBin(args, { env: { ...withoutOurEnv(['TART_HOME']), ...env }, cwd });

test('init writes a pipeline.yml that passes validate --config-only, and prints the next steps', async () => {
  const { dir, tartHome } = fresh();
  const init = await cli(dir, ['init', '--org', 'acme', '--runner-name', 'mini-a'], { TART_HOME: tartHome });
  expect(init.code).toBe(0);
  expect(init.stdout).toContain(`wrote ${join(dir, 'pipeline.yml')}`);
  expect(init.stdout).toMatch(/tart-fleet validate --config /);
  expect(init.stdout).toMatch(/tart-fleet selftest --config /);
  expect(init.stdout).toMatch(/launchd --install/);
  expect(init.stdout).not.toMatch(/build the golden image/); // workhorse was found
  const text = readFileSync(join(dir, 'pipeline.yml'), 'utf8');
  expect(text).toMatch(/^ {2}org: acme +#/m);
  expect(text).toMatch(/^ {2}runner_name: mini-a +#/m);
  expect(text).toMatch(/^ {2}image: workhorse +# golden image cloned per job \(found in /m);
  expect(text).toMatch(/^#/); // commented

  const validate = await cli(dir, ['validate', '--config-only']);
  expect(validate.stdout).toMatch(/^ok {3}config: .*pipeline\.yml: org acme, runner_name mini-a/m);
  expect(validate.stdout).not.toMatch(/^FAIL/m);
  expect(validate.code).toBe(0);
});

test('refuses to overwrite without --force; --force replaces', async () => {
  const { dir, tartHome } = fresh();
  writeFileSync(join(dir, 'pipeline.yml'), 'hand-tuned\n');
  const refused = await cli(dir, ['init', '--org', 'acme'], { TART_HOME: tartHome });
  expect(refused.code).toBe(2);
  expect(refused.stderr).toMatch(/pipeline\.yml exists; not overwriting it \(pass --force/);
  expect(readFileSync(join(dir, 'pipeline.yml'), 'utf8')).toBe('hand-tuned\n');
  const forced = await cli(dir, ['init', '--org', 'acme', '--force'], { TART_HOME: tartHome });
  expect(forced.code).toBe(0);
  expect(readFileSync(join(dir, 'pipeline.yml'), 'utf8')).toMatch(/org: acme/);
});

test('without a TTY and without --org it exits 2 naming --org, and writes nothing; bad names are refused', async () => {
  const { dir, tartHome } = fresh();
  const r = await cli(dir, ['init'], { TART_HOME: tartHome });
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/^--org: required .*stdin is not a TTY/m);
  expect(existsSync(join(dir, 'pipeline.yml'))).toBe(false);
  const bad = await cli(dir, ['init', '--org', 'ac me', '--runner-name', 'Mini_A'], { TART_HOME: tartHome });
  expect(bad.code).toBe(2);
  expect(bad.stderr).toMatch(/--org: "ac me"/);
  expect(bad.stderr).toMatch(/--runner-name: "Mini_A"/);
});

test('a missing golden image is named with how to build it; a small Mac gets only the profiles that fit', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tf-init-'));
  const out = sink();
  const ctx: CliContext = { env: { TART_HOME: join(dir, 'empty') }, cwd: dir, stdout: out.stream, stderr: sink().stream, hostname: 'Build-Mac.local', totalMemBytes: 8 * 1024 ** 3 };
  expect(await initCommand(ctx, { org: 'acme' })).toBe(0);
  const text = readFileSync(join(dir, 'pipeline.yml'), 'utf8');
  expect(text).toMatch(/runner_name: build-mac/);
  expect(text).toMatch(/image: workhorse +# golden image cloned per job \(not found in .*: build it with images\/build-workhorse\.sh\)/);
  expect(text).not.toMatch(/^ {2}developer:/m);
  expect(text).not.toMatch(/^ {2}marketer:/m);
  expect(text).toMatch(/^ {2}coder: /m);
  expect(out.text()).toMatch(/build the golden image workhorse: images\/build-workhorse\.sh/);
  const validate = await cli(dir, ['validate', '--config-only'], { TART_FLEET_HOST_TOTAL_RAM_MB: '8192' });
  expect(validate.stdout).not.toMatch(/^FAIL/m);
  expect(validate.code).toBe(0);
});

test('on a TTY it asks for what the flags did not give', async () => {
  const { dir, tartHome } = fresh();
  const stdin = Object.assign(new PassThrough(), { isTTY: true });
  const err = sink();
  const ctx = { env: { TART_HOME: tartHome }, cwd: dir, stdout: sink(true).stream, stderr: err.stream, hostname: 'mini', totalMemBytes: 16 * 1024 ** 3, stdin };
  const done = initCommand(ctx, {});
  stdin.write('bad org!\nacme\n\ngolden\n');
  expect(await done).toBe(0);
  expect(err.text()).toMatch(/GitHub organisation[\s\S]*GitHub organisation[\s\S]*this Mac's name \[mini\][\s\S]*golden image to clone per job \[workhorse\]/);
  const text = readFileSync(join(dir, 'pipeline.yml'), 'utf8');
  expect(text).toMatch(/org: acme/);
  expect(text).toMatch(/runner_name: mini /);
  expect(text).toMatch(/image: golden /);
});

test('runnerNameFrom: the short host name in runner_name form', () => {
  expect(runnerNameFrom('Mac-Mini-A.local')).toBe('mac-mini-a');
  expect(runnerNameFrom("Jane's MacBook Pro")).toBe('jane-s-macbook-pro');
  expect(runnerNameFrom('___')).toBe('mac-1');
});

describe('on the simulated Mac (a macOS golden image with Apple minimums, the fake GitHub)', () => {
  let world: SimWorld;
  beforeAll(async () => {
    world = await SimWorld.create();
  });
  afterAll(async () => {
    await world.destroy();
  });

  test('init, then a full validate (tart, the images, GitHub, guest SSH) passes: every profile it writes boots the macOS image', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tf-init-'));
    const env = world.daemonEnv();
    const init = await cli(dir, ['init', '--org', world.github.org, '--runner-name', 'sim-mac', '--image', 'workhorse'], env);
    expect(init.code).toBe(0);
    const validate = await cli(dir, ['validate'], env);
    expect(validate.stdout).toMatch(/^ok {3}golden image: workhorse exists/m);
    for (const profile of ['developer', 'coder', 'marketer']) {
      expect(validate.stdout).toMatch(new RegExp(`^ok {3}profile ${profile}: \\d CPU / \\d+ MB fits workhorse \\(macos\\)$`, 'm'));
    }
    expect(validate.stdout).toMatch(/^ok {3}github token: /m);
    expect(validate.stdout).not.toMatch(/^FAIL/m);
    expect(validate.code).toBe(0);
  });

  test("the seed's own file (coder 2048 MB, no image) still loads; validate FAILs its coder on the macOS image and says it needs a Linux image or 4096 MB", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tf-seed-'));
    writeFileSync(join(dir, 'pipeline.yml'), SEED_FILE.replace('your-org', world.github.org));
    const configOnly = await cli(dir, ['validate', '--config-only'], world.daemonEnv());
    expect(configOnly.stdout).toMatch(/^ok {3}config: .*3 profile\(s\) \(developer 8192 MB.*coder 2048 MB/m);
    expect(configOnly.code).toBe(0);
    const full = await cli(dir, ['validate'], world.daemonEnv());
    expect(full.stdout).toMatch(/^FAIL profile coder: ram_mb 2048 is below workhorse's minimum of 4096 MB.*— fix: .*os: linux, image: <a Linux golden image>.*or raise ram_mb to 4096/m);
    expect(full.stdout).toMatch(/^ok {3}profile developer: /m);
    expect(full.code).toBe(1);
  });
});

/** The seed's own pipeline.yml, as the project began (commit a12622d): coder 2048 MB on the default image. */
const SEED_FILE = `github:
  org: your-org
  runner_name: mac-mini-a

host:
  reserved_ram_gb: 4

profiles:
  developer: { ram_mb: 8192, cpu: 6, timeout_minutes: 60 }
  coder:     { ram_mb: 2048, cpu: 2, timeout_minutes: 60 }
  marketer:  { ram_mb: 5120, cpu: 4, timeout_minutes: 30 }
`;
