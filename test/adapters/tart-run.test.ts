/**
 * The tart adapter's `run`, with real zx against the fake `tart`: detached start, the run log header
 * (`startedAt`), startup failures (already-running, VZ limit), stop, and survival of the VM after the
 * starting process exits.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { TartAdapter } from '../../src/adapters/tart.js';
import { memoryLogger } from '../../src/core/logger.js';
import { makeTartWorld, processAlive, sleep, waitFor, type TartWorld, runOptsIn, expectKind } from './tart-world.js';

let w: TartWorld;
let tart: TartAdapter;
const logger = memoryLogger();

const runOpts = (name: string) => runOptsIn(w.dir, name);

const runPid = (name: string): number =>
  (JSON.parse(readFileSync(join(w.home, 'vms', name, 'sim-run.json'), 'utf8')) as { pid: number }).pid;

beforeAll(() => {
  w = makeTartWorld();
  tart = new TartAdapter({ tartBin: w.bin, logger, env: w.env, timeouts: { runStartupMs: 1500 } });
});

afterAll(async () => {
  await w.cleanup();
});

test('run is detached, logs a header for startedAt; already-running, is-running, stop, not-running, no-ip', async () => {
  await tart.clone('gold', 'vm-r');
  const opts = runOpts('vm-r');
  const before = Date.now();
  await tart.run('vm-r', opts);
  const pid = runPid('vm-r');
  expect(processAlive(pid)).toBe(true);
  // Its own session and process group (setsid), so our signals and exit do not reach it.
  const [pgid, sid] = execFileSync('ps', ['-o', 'pgid=,sid=', '-p', String(pid)]).toString().trim().split(/\s+/).map(Number);
  expect(pgid).toBe(pid);
  expect(sid).toBe(pid);
  expect((await tart.list()).find((v) => v.name === 'vm-r')?.state).toBe('running');

  const started = await tart.startedAt('vm-r', opts.logFile);
  expect(started).toBeGreaterThanOrEqual(before - 1000);
  expect(started).toBeLessThanOrEqual(Date.now());
  // Without its run log (an operator cleaned logs), the VM's own config.json says when it was last set up.
  const withoutLog = await tart.startedAt('vm-r', join(w.dir, 'logs', 'missing.log'));
  expect(withoutLog).toBeGreaterThanOrEqual(before - 60_000);
  expect(withoutLog).toBeLessThanOrEqual(Date.now());
  // A VM with neither a header in the log nor files of its own: unknown.
  expect(await tart.startedAt('other-vm', opts.logFile)).toBeUndefined();

  await waitFor(async () => (await tart.ip('vm-r', 0).catch(() => '')) !== '');
  expect(await tart.ip('vm-r', 1)).toMatch(/^127\.\d+\.\d+\.\d+$/);

  const again = await expectKind(tart.run('vm-r', opts), 'already-running');
  expect(again.exitCode).toBe(2);
  expect(again.stderrLine).toBe('VM "vm-r" is already running!');
  const del = await expectKind(tart.delete('vm-r'), 'is-running');
  expect(del.exitCode).toBe(1);

  await tart.stop('vm-r', 5);
  expect(processAlive(pid)).toBe(false);
  const log = readFileSync(opts.logFile, 'utf8');
  expect(log.split('\n')[0]).toMatch(/^# tart-fleet: tart run vm-r started \d{4}-\d\d-\d\dT/);
  expect(log).toContain('Stopping VM...');

  const stop2 = await expectKind(tart.stop('vm-r', 1), 'not-running');
  expect(stop2.exitCode).toBe(2);
  const ip = await expectKind(tart.ip('vm-r', 0), 'no-ip');
  expect(ip.stderrLine).toBe('no IP address found, is your VM running?');
  await tart.delete('vm-r');
});

test('argv elements reach tart unchanged (no shell injection through names or paths)', async () => {
  await tart.clone('gold', 'vm-q');
  const cacheDir = join(w.dir, "cache dir $(touch pwned) 'q'");
  const opts = { ...runOpts('vm-q'), cache: { dir: cacheDir, readOnly: false }, netSoftnetAllow: ['10.0.0.0/8', '192.168.0.0/16'] };
  // --net-softnet-allow implies softnet (this Mac has it installed setuid), and the cache path with spaces survives.
  const withSoftnet = new TartAdapter({ tartBin: w.bin, logger, env: { ...w.env, TART_SIM_SOFTNET: 'setuid' }, timeouts: { runStartupMs: 1500 } });
  await withSoftnet.run('vm-q', opts);
  const pid = runPid('vm-q');
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  expect(argv).toEqual(expect.arrayContaining(['run', 'vm-q', '--no-graphics', '--no-audio', '--no-clipboard', '--dir', `cache:${cacheDir}`, '--net-softnet-allow', '10.0.0.0/8,192.168.0.0/16']));
  expect(() => readFileSync(resolve('pwned'))).toThrow();
  await tart.stop('vm-q', 5);
  await tart.delete('vm-q');
});

test('vz-limit at the third concurrent run, with reboot advice', async () => {
  await Promise.all(['vz-1', 'vz-2', 'vz-3'].map((n) => tart.clone('gold', n)));
  await Promise.all(['vz-1', 'vz-2'].map((n) => tart.run(n, runOpts(n))));
  const e = await expectKind(tart.run('vz-3', runOpts('vz-3')), 'vz-limit');
  expect(e.exitCode).toBe(1);
  expect(e.stderrLine).toBe('The number of VMs exceeds the system limit (other running VMs: vz-1, vz-2)');
  expect(e.message).toMatch(/reboot/);
  await Promise.all(['vz-1', 'vz-2'].map((n) => tart.stop(n, 5)));
  await Promise.all(['vz-1', 'vz-2', 'vz-3'].map((n) => tart.delete(n)));
});

test('a VM whose guest powers off exits 0 and says so in the log', async () => {
  const env = { ...w.env, TART_SIM_STUB_POWEROFF_MS: '1200' };
  const t = new TartAdapter({ tartBin: w.bin, logger, env, timeouts: { runStartupMs: 1000 } });
  await t.clone('gold', 'vm-p');
  const opts = runOpts('vm-p');
  await t.run('vm-p', opts);
  await waitFor(async () => (await t.get('vm-p')).state === 'stopped', 8000);
  expect(readFileSync(opts.logFile, 'utf8')).toContain('guest has stopped the virtual machine');
  expect(w.events().filter((e) => e.vm === 'vm-p' && e.event === 'run-exit')).toEqual([expect.objectContaining({ reason: 'guest-shutdown' })]);
  await t.delete('vm-p');
});

/**
 * Runs `body` as an ES module in a fresh node process, with `TartAdapter` imported (from dist/) and a
 * silent `log`: its exit code and what it printed.
 */
async function inFreshProcess(body: string): Promise<{ exit: number | null; out: string }> {
  const adapterUrl = new URL('../../dist/adapters/tart.js', import.meta.url).href;
  const code = `
    import { TartAdapter } from ${JSON.stringify(adapterUrl)};
    const log = { debug() {}, info() {}, warn() {}, error() {}, child() { return log; } };
    ${body}`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { env: w.env, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const exit = await new Promise<number | null>((r) => child.on('exit', r));
  return { exit, out };
}

test('a VM started by run survives the process that started it', async () => {
  await tart.clone('gold', 'vm-s');
  const opts = runOpts('vm-s');
  const { exit, out } = await inFreshProcess(`
    await new TartAdapter({ tartBin: ${JSON.stringify(w.bin)}, logger: log, timeouts: { runStartupMs: 800 } })
      .run('vm-s', ${JSON.stringify(opts)});
    console.log('started');`);
  expect(exit).toBe(0); // the parent exits on its own: the detached child does not hold its event loop
  expect(out).toContain('started');
  await sleep(300);
  expect((await tart.get('vm-s')).state).toBe('running');
  expect(processAlive(runPid('vm-s'))).toBe(true);
  await tart.stop('vm-s', 5);
  await tart.delete('vm-s');
});

test("tart commands leave Node's promise hooks off (zx's `$(options)` would turn them on for good)", async () => {
  // With promise hooks on (any AsyncLocalStorage.run, which zx's `$(options)` does), a promise
  // reaction runs with a non-zero executionAsyncId; off, it is 0. Every promise of the daemon pays
  // for them once on, so the adapter must never turn them on. In a fresh process: jest may use them.
  await tart.clone('gold', 'vm-h');
  const opts = runOpts('vm-h');
  const { exit, out } = await inFreshProcess(`
    const { executionAsyncId } = await import('node:async_hooks');
    const probe = () => Promise.resolve().then(() => executionAsyncId());
    const before = await probe();
    const t = new TartAdapter({ tartBin: ${JSON.stringify(w.bin)}, logger: log, timeouts: { runStartupMs: 500 } });
    await t.version();
    await t.run('vm-h', ${JSON.stringify(opts)});
    const names = (await t.list()).map((v) => v.name);
    console.log(JSON.stringify({ before, after: await probe(), listed: names.includes('vm-h') }));`);
  expect(exit).toBe(0);
  expect(JSON.parse(out)).toEqual({ before: 0, after: 0, listed: true });
  await tart.stop('vm-h', 5);
  await tart.delete('vm-h');
});
