/**
 * The fake `tart` executable on its own: output formats, exit codes, the VM process (boot delay, IP,
 * power-off, SIGINT, SIGTERM), faults, events and concurrent invocations on one TART_HOME.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { swiftJson } from '../../src/sim/tart/fake-tart.js';
import { makeTartWorld, processAlive, sleep, waitFor, type TartWorld } from '../adapters/tart-world.js';

let w: TartWorld;
const children: ChildProcess[] = [];

/** Starts `tart run` like the adapter does (detached, output to a log file). */
function startRun(name: string, extraEnv: NodeJS.ProcessEnv = {}): { child: ChildProcess; log: string; exit: Promise<number | null> } {
  const log = join(w.dir, `${name}-${children.length}.log`);
  const fd = openSync(log, 'a');
  const child = spawn(w.bin, ['run', name, '--no-graphics'], { env: { ...w.env, ...extraEnv }, stdio: ['ignore', fd, fd], detached: true });
  closeSync(fd);
  children.push(child);
  const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, log, exit };
}

const listJson = async () => JSON.parse((await w.tart(['list', '--format', 'json'])).stdout) as Array<Record<string, unknown>>;
const stateOf = async (name: string) => (await listJson()).find((v) => v.Name === name)?.State;

beforeAll(() => {
  w = makeTartWorld();
});

afterAll(async () => {
  await w.cleanup();
  for (const c of children) if (c.pid && processAlive(c.pid)) c.kill('SIGKILL');
});

test('list formats: empty JSON array, text, quiet, bad source', async () => {
  const empty = makeTartWorld();
  try {
    await empty.tart(['delete', 'gold']);
    expect((await empty.tart(['list', '--format', 'json'])).stdout).toBe('[\n\n]\n');
    expect((await empty.tart(['list'])).stdout).toBe('\n');
    expect((await empty.tart(['list', '-q'])).stdout).toBe('');
  } finally {
    await empty.cleanup();
  }
  const text = (await w.tart(['list'])).stdout.split('\n');
  expect(text[0]).toMatch(/^Source Name\s+Disk Size Accessed\s+State/);
  expect(text[1]).toMatch(/^local {2}gold\s+50\s+25\s+.* ago\s+stopped$/);
  const bad = await w.tart(['list', '--source', 'foo']);
  expect(bad.code).toBe(64);
  expect(bad.stderr.split('\n')[0]).toBe("Error: 'foo' is not a valid <source>");
});

test('JSON like Swift: " : " separators, \\/ escaping, key order varying per process', async () => {
  expect(swiftJson([{ Name: 'ghcr.io/x:latest' }])).toMatch(/^\[\n {2}\{\n {4}"Name" : "ghcr\.io\\\/x:latest"\n {2}\}\n\]$/);
  const orders = new Set<string>();
  for (let i = 0; i < 6; i++) orders.add(Object.keys((await listJson())[0] ?? {}).join(','));
  expect(orders.size).toBeGreaterThan(1);
  const got = JSON.parse((await w.tart(['get', 'gold', '--format', 'json'])).stdout) as Record<string, unknown>;
  expect(got).toEqual({ OS: 'darwin', CPU: 4, Memory: 4096, Disk: 50, DiskFormat: 'raw', Size: '25.000', Display: '1024x768', Running: false, State: 'stopped' });
});

test('clone copies image files (host key included) but not runtime state; MAC regenerated on a clash', async () => {
  writeFileSync(join(w.home, 'vms', 'gold', 'ssh_host_ed25519_key'), 'sim host key');
  writeFileSync(join(w.home, 'vms', 'gold', 'sim-run.json'), JSON.stringify({ ip: '127.9.9.9' }));
  expect((await w.tart(['clone', 'gold', 'c1'])).code).toBe(0);
  const c1 = join(w.home, 'vms', 'c1');
  for (const f of ['config.json', 'disk.img', 'nvram.bin', 'ssh_host_ed25519_key']) expect(existsSync(join(c1, f))).toBe(true);
  expect(existsSync(join(c1, 'sim-run.json'))).toBe(false);
  const mac = (n: string) => (JSON.parse(readFileSync(join(w.home, 'vms', n, 'config.json'), 'utf8')) as { macAddress: string }).macAddress;
  // gold already has the source's MAC, so the first clone gets a fresh one, as tart does.
  expect(mac('c1')).not.toBe(mac('gold'));
  const cfg = JSON.parse(readFileSync(join(c1, 'config.json'), 'utf8')) as { memorySize: number; cpuCount: number };
  expect(cfg).toMatchObject({ cpuCount: 4, memorySize: 4096 * 1024 * 1024 });
  expect((await w.tart(['set', 'c1', '--cpu', '1'])).code).toBe(1); // below the macOS minimum
  expect(w.events()).toEqual(expect.arrayContaining([expect.objectContaining({ event: 'clone', vm: 'c1', source: 'gold' })]));
  expect((await w.tart(['delete', 'c1'])).code).toBe(0);
});

test('run: boot delay before the IP, unique IPs, SIGINT stops with "Stopping VM...", SIGTERM kills at once', async () => {
  await Promise.all(['r1', 'r2'].map((n) => w.tart(['clone', 'gold', n])));
  // Long enough that a loaded machine still asks for the IP before the boot ends.
  const slow = { TART_SIM_BOOT_MS: '6000' };
  const r1 = startRun('r1', slow);
  await waitFor(async () => (await stateOf('r1')) === 'running');
  const early = await w.tart(['ip', 'r1']);
  expect(early.code).toBe(1);
  expect(early.stderr).toBe('no IP address found\n');
  const ip1 = await w.tart(['ip', 'r1', '--wait', '30']);
  expect(ip1.code).toBe(0);
  const r2 = startRun('r2');
  await waitFor(async () => (await w.tart(['ip', 'r2'])).code === 0);
  const ip2 = (await w.tart(['ip', 'r2'])).stdout;
  expect(ip1.stdout).toMatch(/^127\.\d+\.\d+\.\d+\n$/);
  expect(ip2).not.toBe(ip1.stdout);

  r1.child.kill('SIGINT');
  expect(await r1.exit).toBe(0);
  expect(readFileSync(r1.log, 'utf8')).toContain('Stopping VM...');
  expect(await stateOf('r1')).toBe('stopped');

  r2.child.kill('SIGTERM');
  expect(await r2.exit).toBeNull(); // killed by the signal: no handler, like real tart
  expect(readFileSync(r2.log, 'utf8')).not.toContain('Stopping VM...');
  expect(await stateOf('r2')).toBe('stopped'); // a stale pid does not count as running
  const exits = w.events().filter((e) => e.event === 'run-exit');
  expect(exits.map((e) => e.vm)).toEqual(['r1']);
  await w.tart(['delete', 'r1', 'r2']);
});

test('the guest powering off ends tart run with exit 0', async () => {
  await w.tart(['clone', 'gold', 'p1']);
  const r = startRun('p1', { TART_SIM_STUB_POWEROFF_MS: '400' });
  expect(await r.exit).toBe(0);
  expect(readFileSync(r.log, 'utf8')).toContain('guest has stopped the virtual machine\n');
  await w.tart(['delete', 'p1']);
});

test('faults: times count down; crashAfterMs; a fault for another VM does not apply', async () => {
  await w.tart(['clone', 'gold', 'f1']);
  w.faults({ run: [{ error: 'vz-limit', times: 1, vm: 'other' }, { crashAfterMs: 300, times: 1 }], stop: { error: 'other', stderr: 'custom', exitCode: 7 } });
  const r = startRun('f1');
  expect(await r.exit).toBe(0);
  expect(readFileSync(r.log, 'utf8')).toContain('guest has stopped the virtual machine due to error: simulated VM crash');
  const left = JSON.parse(readFileSync(join(w.home, '.sim', 'faults.json'), 'utf8')) as Record<string, unknown>;
  expect(left.run).toEqual([{ error: 'vz-limit', times: 1, vm: 'other' }]);
  const stop = await w.tart(['stop', 'f1']);
  expect(stop).toMatchObject({ code: 7, stderr: 'custom\n' });
  w.faults({});
  await w.tart(['delete', 'f1']);
});

test('tart stop SIGKILLs a VM that does not stop within --timeout', async () => {
  await w.tart(['clone', 'gold', 'k1']);
  w.faults({ run: { stuckOnStop: true, times: 1 } });
  const r = startRun('k1');
  await waitFor(async () => (await stateOf('k1')) === 'running');
  const started = Date.now();
  expect((await w.tart(['stop', 'k1', '--timeout', '1'])).code).toBe(0);
  expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
  expect(await r.exit).toBeNull();
  expect(readFileSync(r.log, 'utf8')).toContain('Stopping VM...');
  // Like real tart, stop returns right after kill(SIGKILL): the process may take a moment to go.
  await waitFor(async () => (await stateOf('k1')) === 'stopped');
  expect(w.events().filter((e) => e.event === 'stop' && e.vm === 'k1')).toEqual([expect.objectContaining({ forced: true })]);
  await w.tart(['delete', 'k1']);
});

test('concurrent invocations on one TART_HOME: clones stay whole, one run per VM, the VZ limit holds', async () => {
  const names = Array.from({ length: 6 }, (_, i) => `cc${i}`);
  const clones = await Promise.all(names.map((n) => w.tart(['clone', 'gold', n])));
  expect(clones.map((c) => c.code)).toEqual(names.map(() => 0));
  const listed = (await listJson()).map((v) => v.Name);
  expect(listed).toEqual(expect.arrayContaining(names));
  for (const n of names) JSON.parse(readFileSync(join(w.home, 'vms', n, 'config.json'), 'utf8'));

  // Three runs of one VM at once: exactly one wins, the others get "already running" (exit 2).
  const same = [startRun('cc0'), startRun('cc0'), startRun('cc0')];
  const exited = (rs: { child: ChildProcess }[]) => rs.filter((r) => r.child.exitCode !== null || r.child.signalCode !== null);
  await waitFor(() => exited(same).length >= 2, 10_000);
  await sleep(300); // the winner must stay up
  const alive = same.filter((r) => r.child.exitCode === null && r.child.signalCode === null);
  expect(alive).toHaveLength(1);
  for (const r of same.filter((x) => !alive.includes(x))) {
    expect(await r.exit).toBe(2);
    expect(readFileSync(r.log, 'utf8')).toContain('VM "cc0" is already running!');
  }
  // Three more VMs at once: with one running and a limit of 2, exactly one more starts.
  const more = ['cc1', 'cc2', 'cc3'].map((n) => startRun(n));
  await waitFor(() => exited(more).length >= 2, 10_000);
  await sleep(300);
  const running = (await listJson()).filter((v) => v.State === 'running').map((v) => v.Name);
  expect(running).toHaveLength(2);
  expect(more.filter((r) => r.child.exitCode === 1)).toHaveLength(2);
  await Promise.all(running.map((n) => w.tart(['stop', String(n), '--timeout', '2'])));
  expect((await w.tart(['delete', ...names])).code).toBe(0);
});
