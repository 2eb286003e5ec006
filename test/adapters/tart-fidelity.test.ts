/**
 * What the first real Mac showed the fakes had hidden (issue #17, audit tart.md): the fake `tart`
 * now behaves like real tart in each of these, and the adapter copes. Real zx against the fake.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TartAdapter } from '../../src/adapters/tart.js';
import { memoryLogger } from '../../src/core/logger.js';
import { makeTartWorld, expectKind, runOptsIn, waitFor, type TartWorld } from './tart-world.js';

let w: TartWorld;
let tart: TartAdapter;
const logger = memoryLogger();
const SHARE = '/Volumes/My Shared Files/cache';

const runPid = (name: string): number => (JSON.parse(readFileSync(join(w.home, 'vms', name, 'sim-run.json'), 'utf8')) as { pid: number }).pid;

beforeAll(() => {
  w = makeTartWorld();
  tart = new TartAdapter({ tartBin: w.bin, logger, env: w.env, timeouts: { runStartupMs: 1000 } });
});

afterAll(async () => {
  await w.cleanup();
});

afterEach(() => w.faults({}));

async function removeVm(name: string): Promise<void> {
  if ((await tart.list()).find((v) => v.name === name)?.state === 'running') await tart.stop(name, 2);
  await tart.delete(name);
}

test('a --dir whose host path is missing fails tart run with the VZ error; the adapter creates the cache dir first', async () => {
  await tart.clone('gold', 'vm-dir');
  const missing = join(w.dir, 'no-such-cache');
  const direct = await w.tart(['run', 'vm-dir', '--no-graphics', '--dir', `cache:${missing}`]);
  expect(direct.code).toBe(1);
  expect(direct.stderr).toContain('Error Domain=VZErrorDomain Code=2 "A directory sharing device configuration is invalid."');
  expect(direct.stderr).toContain('NSPOSIXErrorDomain Code=2 "No such file or directory"');

  const dir = join(w.dir, 'fresh-host', 'cache');
  await tart.run('vm-dir', { ...runOptsIn(w.dir, 'vm-dir'), cache: { dir, readOnly: false } });
  expect(existsSync(dir)).toBe(true);
  expect((await tart.get('vm-dir')).state).toBe('running');
  await removeVm('vm-dir');
});

test("a read-only share: --dir cache:PATH:ro, and the guest cannot write into it; no share, no cache in the guest", async () => {
  const cacheDir = join(w.dir, 'ro-cache');
  mkdirSync(cacheDir, { recursive: true });
  writeFileSync(join(cacheDir, 'seeded.txt'), 'from the host\n');
  await tart.clone('gold', 'vm-ro');
  await tart.run('vm-ro', { ...runOptsIn(w.dir, 'vm-ro'), cache: { dir: cacheDir, readOnly: true } });
  const argv = readFileSync(`/proc/${runPid('vm-ro')}/cmdline`, 'utf8').split('\0');
  expect(argv).toEqual(expect.arrayContaining(['--dir', `cache:${cacheDir}:ro`]));
  expect(w.events().find((e) => e.event === 'run-start' && e.vm === 'vm-ro')).toMatchObject({ shares: [{ name: 'cache', hostPath: cacheDir, readOnly: true }] });
  await waitFor(async () => (await w.tart(['exec', 'vm-ro', 'true'])).code === 0, 10_000);
  expect(await w.tart(['exec', 'vm-ro', 'cat', `${SHARE}/seeded.txt`])).toMatchObject({ code: 0, stdout: 'from the host\n' });
  const write = await w.tart(['exec', 'vm-ro', 'touch', `${SHARE}/poisoned`]);
  expect(write).toMatchObject({ code: 1, stderr: `touch: ${SHARE}/poisoned: Read-only file system\n` });
  expect(existsSync(join(cacheDir, 'poisoned'))).toBe(false);
  await removeVm('vm-ro');

  await tart.clone('gold', 'vm-rw');
  await tart.run('vm-rw', { ...runOptsIn(w.dir, 'vm-rw'), cache: { dir: cacheDir, readOnly: false } });
  await waitFor(async () => (await w.tart(['exec', 'vm-rw', 'true'])).code === 0, 10_000);
  expect((await w.tart(['exec', 'vm-rw', 'touch', `${SHARE}/written`])).code).toBe(0);
  expect(existsSync(join(cacheDir, 'written'))).toBe(true);
  await removeVm('vm-rw');

  await tart.clone('gold', 'vm-none');
  await tart.run('vm-none', { ...runOptsIn(w.dir, 'vm-none'), cache: undefined });
  expect(readFileSync(`/proc/${runPid('vm-none')}/cmdline`, 'utf8').split('\0')).not.toContain('--dir');
  expect(w.events().find((e) => e.event === 'run-start' && e.vm === 'vm-none')).toMatchObject({ shares: [] });
  await waitFor(async () => (await w.tart(['exec', 'vm-none', 'true'])).code === 0, 10_000);
  expect(await w.tart(['exec', 'vm-none', 'ls', SHARE])).toMatchObject({ code: 1, stderr: `ls: ${SHARE}: No such file or directory\n` });
  await removeVm('vm-none');
});

test('a cache dir whose last ":" segment reads as share options is refused before tart runs', async () => {
  const e = await expectKind(tart.run('gold', { ...runOptsIn(w.dir, 'gold'), cache: { dir: join(w.dir, 'odd:x,ro'), readOnly: false } }), 'usage');
  expect(e.stderrLine).toMatch(/share options/);
});

test('macOS minimums: real texts in bytes, "(requested N)", exit 1; Linux guests are not held to them', async () => {
  await tart.clone('gold', 'vm-min');
  const mem = await w.tart(['set', 'vm-min', '--memory', '2048']);
  expect(mem).toMatchObject({ code: 1, stderr: 'Error: LessThanMinimalResourcesError: VM should have 4294967296 bytes of memory at minimum (requested 2147483648)\n' });
  const cpu = await w.tart(['set', 'vm-min', '--cpu', '1']);
  expect(cpu).toMatchObject({ code: 1, stderr: 'Error: LessThanMinimalResourcesError: VM should have 2 CPU cores at minimum (requested 1)\n' });
  const e = await expectKind(tart.set('vm-min', { cpu: 2, ramMb: 2048, randomMac: true }), 'other');
  expect(e.stderrLine).toMatch(/LessThanMinimalResourcesError/);
  await tart.set('vm-min', { cpu: 2, ramMb: 4096, randomMac: true });
  expect(await tart.get('vm-min')).toMatchObject({ cpu: 2, ramMb: 4096 });
  await tart.delete('vm-min');

  expect((await w.tart(['create', 'lin', '--linux', '--memory', '4096'])).code).toBe(0);
  await tart.set('lin', { cpu: 1, ramMb: 1024, randomMac: false });
  expect(await tart.get('lin')).toMatchObject({ os: 'linux', cpu: 1, ramMb: 1024 });
  await tart.delete('lin');
});

test('set --disk-size only grows (real text, exit 1) and is a UInt16; a repeated option takes the last value', async () => {
  await tart.clone('gold', 'vm-disk');
  expect(await w.tart(['set', 'vm-disk', '--disk-size', '40'])).toMatchObject({ code: 1, stderr: 'new disk size of 40 GB should be larger than the current disk size of 50 GB\n' });
  expect((await w.tart(['set', 'vm-disk', '--disk-size', '70000'])).code).toBe(64);
  expect((await w.tart(['set', 'vm-disk', '--disk-size', '80'])).code).toBe(0);
  expect(JSON.parse((await w.tart(['get', 'vm-disk', '--format', 'json'])).stdout)).toMatchObject({ Disk: 80 });
  expect((await w.tart(['set', 'vm-disk', '--cpu', '2', '--cpu', '3'])).code).toBe(0);
  expect(await tart.get('vm-disk')).toMatchObject({ cpu: 3 });
  await tart.delete('vm-disk');
});

test('only --version exists (no `version` subcommand), and the adapter uses it', async () => {
  expect(await w.tart(['version'])).toMatchObject({ code: 64 });
  expect(await tart.version()).toBe('2.32.1');
});

test('a VM directory missing one of config.json, disk.img, nvram.bin: unlisted, and vm-missing for get and run', async () => {
  await tart.clone('gold', 'vm-half');
  unlinkSync(join(w.home, 'vms', 'vm-half', 'nvram.bin'));
  expect((await tart.list()).map((v) => v.name)).not.toContain('vm-half');
  const get = await expectKind(tart.get('vm-half'), 'vm-missing');
  expect(get.exitCode).toBe(1);
  expect(get.stderrLine).toBe('VM is missing some of its files (config.json, disk.img or nvram.bin)');
  await expectKind(tart.run('vm-half', runOptsIn(w.dir, 'vm-half')), 'vm-missing');
  rmSync(join(w.home, 'vms', 'vm-half'), { recursive: true });
});

test('Softnet: missing → fails at once; installed without SUID → the VM dies; setuid → runs', async () => {
  const softnetOpts = (name: string) => ({ ...runOptsIn(w.dir, name), netSoftnet: true });
  await tart.clone('gold', 'vm-sn');
  const missing = await expectKind(tart.run('vm-sn', softnetOpts('vm-sn')), 'other');
  expect(missing.stderrLine).toBe('Error: InitializationFailed(why: "softnet not found in PATH")');
  expect(missing.message).toContain('brew install cirruslabs/cli/softnet');

  const noSuid = new TartAdapter({ tartBin: w.bin, logger, env: { ...w.env, TART_SIM_SOFTNET: 'no-suid' }, timeouts: { runStartupMs: 1500 } });
  const died = await expectKind(noSuid.run('vm-sn', softnetOpts('vm-sn')), 'other');
  expect(readFileSync(runOptsIn(w.dir, 'vm-sn').logFile, 'utf8')).toContain('RuntimeFailed(why: "Softnet process terminated prematurely")');
  expect(died.message).toContain('chmod u+s');

  const setuid = new TartAdapter({ tartBin: w.bin, logger, env: { ...w.env, TART_SIM_SOFTNET: 'setuid' }, timeouts: { runStartupMs: 1000 } });
  await setuid.run('vm-sn', softnetOpts('vm-sn'));
  expect((await tart.get('vm-sn')).state).toBe('running');
  await removeVm('vm-sn');
});

test.each([
  ['vz-limit', 'vz-limit', /number of VMs exceeds the system limit/],
  ['out-of-disk', 'out-of-disk', /VZErrorDomain Code=8/],
] as const)('a tart run that dies after the startup watch (%s): ip reports that kind, not no-ip', async (error, kind, text) => {
  const name = `vm-late-${kind}`;
  await tart.clone('gold', name);
  // The VM lives past the adapter's 1 s watch, then tart run prints the error and exits 1.
  w.faults({ run: { error, dieAfterMs: 2500, times: 1 } });
  await tart.run(name, runOptsIn(w.dir, name));
  await waitFor(async () => (await tart.get(name)).state === 'stopped', 15_000);
  const e = await expectKind(tart.ip(name, 1), kind);
  expect(e.stderrLine).toMatch(text);
  await tart.delete(name);
});

test('remote images are pulled (delay, then a clone), or fail with the registry error', async () => {
  const ref = 'ghcr.io/cirruslabs/macos-sequoia-base:latest';
  writeFileSync(join(w.home, '.sim', 'registry.json'), JSON.stringify({ [ref]: { os: 'darwin', pullMs: 300 }, 'ghcr.io/acme/private:1': { status: 401, details: 'unauthorized' } }));
  await tart.clone(ref, 'vm-pulled');
  expect(await tart.get('vm-pulled')).toMatchObject({ os: 'darwin', state: 'stopped' });
  expect(w.events()).toEqual(expect.arrayContaining([expect.objectContaining({ event: 'pull', vm: 'vm-pulled', source: ref })]));
  const denied = await expectKind(tart.clone('ghcr.io/acme/private:1', 'vm-denied'), 'other');
  expect(denied.exitCode).toBe(1);
  expect(denied.stderrLine).toBe('Error: UnexpectedHTTPStatusCode(when: "pulling manifest", code: 401, details: "unauthorized")');
  const unknown = await expectKind(tart.clone('ghcr.io/acme/nothing:1', 'vm-unknown'), 'other');
  expect(unknown.stderrLine).toMatch(/code: 404/);
  await tart.delete('vm-pulled');
});

test('SIGUSR2 is only a request: a macOS guest keeps running, a Linux guest powers off', async () => {
  await tart.clone('gold', 'vm-usr2');
  const opts = runOptsIn(w.dir, 'vm-usr2');
  await tart.run('vm-usr2', opts);
  process.kill(runPid('vm-usr2'), 'SIGUSR2');
  await waitFor(() => readFileSync(opts.logFile, 'utf8').includes('Requesting guest OS to stop...'));
  expect((await tart.get('vm-usr2')).state).toBe('running');
  await removeVm('vm-usr2');

  expect((await w.tart(['create', 'lin2', '--linux'])).code).toBe(0);
  const lin = runOptsIn(w.dir, 'lin2');
  await tart.run('lin2', lin);
  process.kill(runPid('lin2'), 'SIGUSR2');
  await waitFor(async () => (await tart.get('lin2')).state === 'stopped', 10_000);
  await tart.delete('lin2');
});

describe('secrets stay home: tart children get an allow-listed environment', () => {
  const secrets = { TART_FLEET_GITHUB_TOKEN: 'ghp_tartfleetsecret1', GITHUB_TOKEN: 'ghp_plainsecret2', TART_FLEET_SSH_PASSWORD: 'guest-pass-3', AWS_SECRET_ACCESS_KEY: 'aws-secret-4' };
  const leaked = (text: string) => Object.values(secrets).filter((s) => text.includes(s));

  test('a running tart run has none of them in /proc/<pid>/environ', async () => {
    const t = new TartAdapter({ tartBin: w.bin, logger, env: { ...w.env, ...secrets }, timeouts: { runStartupMs: 800 } });
    await t.clone('gold', 'vm-env');
    await t.run('vm-env', runOptsIn(w.dir, 'vm-env'));
    const environ = readFileSync(`/proc/${runPid('vm-env')}/environ`, 'utf8');
    expect(leaked(environ)).toEqual([]);
    const names = environ.split('\0').filter(Boolean).map((kv) => kv.slice(0, kv.indexOf('=')));
    expect(names).toEqual(expect.arrayContaining(['PATH', 'TART_HOME']));
    expect(names.filter((n) => n.startsWith('TART_FLEET_') || n === 'GITHUB_TOKEN')).toEqual([]);
    await removeVm('vm-env');
  });

  test('a short tart command sees none of them either', async () => {
    const dump = join(w.dir, 'bin', 'env-dumping-tart');
    writeFileSync(dump, '#!/bin/sh\nenv\n');
    chmodSync(dump, 0o755);
    const t = new TartAdapter({ tartBin: dump, logger, env: { ...w.env, ...secrets, LC_ALL: 'C' } });
    const env = await t.version(); // the whole environment, as the "version"
    expect(leaked(env)).toEqual([]);
    expect(env).toMatch(/^TART_HOME=/m);
    expect(env).toMatch(/^LC_ALL=C$/m);
  });
});

test('an invalid --root-disk-opts sync= mode fails tart run (no prefix, exit 1); valid ones boot', async () => {
  await tart.clone('gold', 'vm-rdo');
  const e = await expectKind(tart.run('vm-rdo', { ...runOptsIn(w.dir, 'vm-rdo'), rootDiskOpts: 'sync=sometimes' }), 'other');
  expect(e.exitCode).toBe(1);
  expect(e.stderrLine).toBe('unsupported disk image synchronization mode: "sometimes"');
  await tart.run('vm-rdo', { ...runOptsIn(w.dir, 'vm-rdo'), rootDiskOpts: 'sync=none,caching=cached' });
  await removeVm('vm-rdo');
});
