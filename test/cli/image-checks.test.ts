/**
 * validate's profile-vs-image fit: golden images are written by the fake tart's own store (the
 * same config.json layout tart uses), and the checks read them back as they would on a Mac.
 */
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateConfig } from '../../src/config/load.js';
import { imageFitChecks } from '../../src/cli/image-checks.js';
import { createGoldenImage } from '../../src/sim/tart/store.js';

function configWith(profiles: Record<string, Record<string, unknown>>, image = 'golden') {
  return validateConfig(
    { github: { org: 'acme', runner_name: 'mac-a' }, host: { total_ram_mb: 65536, reserved_ram_gb: 4 }, vm: { image }, profiles },
    'test',
    { env: {}, hostname: 'test', totalMemBytes: 0 },
  ).config;
}

function tartHome(): string {
  return mkdtempSync(join(tmpdir(), 'tf-image-checks-'));
}

test('a profile below a macOS image minimum fails, naming the profile, the image and both figures', () => {
  const home = tartHome();
  createGoldenImage(home, 'golden', { cpu: 4, ramMb: 8192, os: 'darwin', cpuCountMin: 4, memoryMinMb: 4096 });
  const results = imageFitChecks(home, configWith({ tiny: { ram_mb: 2048, cpu: 2, timeout_minutes: 10 }, big: { ram_mb: 8192, cpu: 4, timeout_minutes: 10 } }));
  expect(results).toEqual([
    { status: 'fail', what: 'profile tiny', detail: expect.stringMatching(/cpu 2 is below golden's minimum of 4; ram_mb 2048 is below golden's minimum of 4096 MB: .*LessThanMinimalResourcesError/), fix: expect.stringMatching(/give the profile a Linux image \(os: linux, image: <a Linux golden image>\), or raise ram_mb to 4096 and cpu to 4$/) },
    { status: 'ok', what: 'profile big', detail: '4 CPU / 8192 MB fits golden (macos)' },
  ]);
});

test('exactly the minimum fits', () => {
  const home = tartHome();
  createGoldenImage(home, 'golden', { cpu: 4, ramMb: 8192, os: 'darwin', cpuCountMin: 4, memoryMinMb: 4096 });
  expect(imageFitChecks(home, configWith({ edge: { ram_mb: 4096, cpu: 4, timeout_minutes: 10 } }))[0]?.status).toBe('ok');
});

test('Linux images have no minimums that tart enforces, but an os mismatch warns in both directions', () => {
  const home = tartHome();
  createGoldenImage(home, 'ubuntu', { cpu: 4, ramMb: 4096, os: 'linux', cpuCountMin: 2 });
  createGoldenImage(home, 'sequoia', { cpu: 4, ramMb: 4096, os: 'darwin' });
  const results = imageFitChecks(
    home,
    configWith({
      small: { ram_mb: 1024, cpu: 1, timeout_minutes: 10, image: 'ubuntu', os: 'linux' },
      wrong: { ram_mb: 2048, cpu: 2, timeout_minutes: 10, image: 'ubuntu' },
      escaping: { ram_mb: 4096, cpu: 2, timeout_minutes: 10, image: 'sequoia', os: 'linux' },
    }),
  );
  expect(results.map((r) => [r.what, r.status])).toEqual([
    ['profile small', 'ok'],
    ['profile wrong', 'warn'],
    ['profile escaping', 'warn'],
  ]);
  expect(results[1]?.detail).toMatch(/os is macos but ubuntu is a linux image: .*wrongly count against the max_vms cap.*set os: linux/);
  expect(results[2]?.detail).toMatch(/os is linux but sequoia is a macos image: its VMs would escape the max_vms cap.*set os: macos/);
});

test('an image that is not a local VM is left to the golden-image check; a corrupt config.json warns', () => {
  const home = tartHome();
  mkdirSync(join(home, 'vms', 'broken'), { recursive: true });
  writeFileSync(join(home, 'vms', 'broken', 'config.json'), '{ not json');
  const results = imageFitChecks(
    home,
    configWith({
      missing: { ram_mb: 2048, cpu: 2, timeout_minutes: 10 },
      remote: { ram_mb: 2048, cpu: 2, timeout_minutes: 10, image: 'ghcr.io/cirruslabs/macos-sequoia-base:latest' },
      corrupt: { ram_mb: 2048, cpu: 2, timeout_minutes: 10, image: 'broken' },
    }, 'absent'),
  );
  expect(results).toEqual([{ status: 'warn', what: 'profile corrupt', detail: expect.stringMatching(/^cannot read broken's config\.json: /) }]);
});

test('a config.json without "os" is a macOS image, as tart decodes it: its minimums apply', () => {
  const home = tartHome();
  const dir = createGoldenImage(home, 'old', { cpu: 4, ramMb: 8192, os: 'darwin' });
  const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  delete cfg.os;
  writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
  const results = imageFitChecks(home, configWith({ coder: { ram_mb: 2048, cpu: 2, timeout_minutes: 10 } }, 'old'));
  expect(results).toEqual([{ status: 'fail', what: 'profile coder', detail: expect.stringMatching(/ram_mb 2048 is below old's minimum of 4096 MB/), fix: expect.stringMatching(/raise ram_mb to 4096$/) }]);
});

test("the fake's macOS images carry the real minimums: the seed's 2048 MB coder does not fit, 4096 MB does", () => {
  const home = tartHome();
  createGoldenImage(home, 'golden', { cpu: 4, ramMb: 8192, os: 'darwin' });
  const results = imageFitChecks(home, configWith({ coder: { ram_mb: 2048, cpu: 2, timeout_minutes: 60 }, roomy: { ram_mb: 4096, cpu: 2, timeout_minutes: 60 } }));
  expect(results.map((r) => [r.what, r.status])).toEqual([
    ['profile coder', 'fail'],
    ['profile roomy', 'ok'],
  ]);
});
