/**
 * The tart adapter, with real zx against the fake `tart` executable: argv, parsing, timeouts and
 * the classification of every failure into a TartErrorKind.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TartAdapter } from '../../src/adapters/tart.js';
import { memoryLogger } from '../../src/core/logger.js';
import { makeTartWorld, processAlive, type TartWorld, runOptsIn, expectKind } from './tart-world.js';

let w: TartWorld;
let tart: TartAdapter;
const logger = memoryLogger();

const runOpts = (name: string) => runOptsIn(w.dir, name);

beforeAll(() => {
  w = makeTartWorld();
  tart = new TartAdapter({ tartBin: w.bin, logger, env: w.env, timeouts: { runStartupMs: 1500 } });
});

afterAll(async () => {
  await w.cleanup();
});

test('version, and each command is logged at debug with exit code and duration', async () => {
  expect(await tart.version()).toBe('2.32.1');
  const entry = logger.entries.find((e) => e.msg === 'tart command' && (e.ctx.command as string[])[0] === '--version');
  expect(entry).toMatchObject({ level: 'debug', ctx: { component: 'tart', exitCode: 0 } });
  expect(typeof entry?.ctx.durationMs).toBe('number');
});

test('clone, set, get and list', async () => {
  await tart.clone('gold', 'vm-a');
  await tart.set('vm-a', { cpu: 3, ramMb: 5120, randomMac: true });
  expect(await tart.get('vm-a')).toEqual({ name: 'vm-a', state: 'stopped', os: 'darwin', cpu: 3, ramMb: 5120 });
  const list = await tart.list();
  expect(list).toEqual(expect.arrayContaining([{ name: 'gold', state: 'stopped' }, { name: 'vm-a', state: 'stopped' }]));
  expect(w.events().filter((e) => e.event === 'set')).toEqual([expect.objectContaining({ vm: 'vm-a', cpu: 3, ramMb: 5120, randomMac: true })]);
  await tart.delete('vm-a');
  expect((await tart.list()).map((v) => v.name)).toEqual(['gold']);
});

test("the tart user's ~/.bashrc never runs: Node's stdio pipes are sockets, which bash takes for an sshd session", async () => {
  // bash runs ~/.bashrc for `bash -c` when stdin is a socket and SHLVL < 2 (shell.c, the rshd/sshd
  // case), and Node's stdio "pipes" are socketpairs. A slow or chatty .bashrc (pyenv, nvm, conda,
  // an echo) would then run before every tart command and could corrupt its JSON output.
  const home = join(w.dir, 'home-with-bashrc');
  mkdirSync(home, { recursive: true });
  writeFileSync(join(home, '.bashrc'), `echo '[{"Name":"from-bashrc","Source":"local","State":"running"}]'\ntouch '${join(home, 'bashrc-ran')}'\n`);
  const env = { ...w.env, HOME: home, SHLVL: '0' };
  const inHome = new TartAdapter({ tartBin: w.bin, logger, env });
  expect((await inHome.list()).map((v) => v.name)).toEqual(['gold']);
  expect(await inHome.version()).toBe('2.32.1');
  expect(existsSync(join(home, 'bashrc-ran'))).toBe(false);
});

test('list parsing ignores key order, whitespace, \\/ escaping and OCI entries; garbage fails closed', async () => {
  const script = join(w.dir, 'bin', 'canned-tart');
  const json = String.raw`[ {"State":"running","Name":"tf-a","Source":"local","Running":true},
    {"Running" : false, "Name" : "ghcr.io\/cirruslabs\/macos:latest", "Source" : "OCI", "State" : "stopped"},
    {"Name":"old-\/style","Source":"local","Running":false} ]`;
  writeFileSync(script, `#!/bin/sh\ncat <<'EOF'\n${json}\nEOF\n`);
  chmodSync(script, 0o755);
  const canned = new TartAdapter({ tartBin: script, logger, env: w.env });
  expect(await canned.list()).toEqual([
    { name: 'tf-a', state: 'running' },
    { name: 'old-/style', state: 'stopped' },
  ]);
  writeFileSync(script, '#!/bin/sh\necho "not json"\n');
  await expectKind(canned.list(), 'other');
  writeFileSync(script, '#!/bin/sh\necho \'[{"Name":"x","Source":"local","State":"weird"}]\'\n');
  await expectKind(canned.list(), 'other');
});

test.each([
  ['clone', () => tart.clone('nope', 'x')],
  ['ip', () => tart.ip('nope', 0)],
  ['get', () => tart.get('nope')],
  ['delete', () => tart.delete('nope')],
  ['stop', () => tart.stop('nope', 1)],
])('vm-missing from %s (exit 2)', async (_cmd, call) => {
  const e = await expectKind(call(), 'vm-missing');
  expect(e.exitCode).toBe(2);
  expect(e.stderrLine).toBe('the specified VM "nope" does not exist');
});

test('vm-missing from run (exit 1 with the Error: prefix of the validate path)', async () => {
  const e = await expectKind(tart.run('nope', runOpts('nope')), 'vm-missing');
  expect(e.exitCode).toBe(1);
  expect(e.stderrLine).toBe('Error: the specified VM "nope" does not exist');
});

test('the raw VZErrorDomain Code=6 text and out-of-disk come through the faults file', async () => {
  w.faults({ run: { error: 'vz-limit-raw', times: 1 }, clone: { error: 'out-of-disk', times: 1 } });
  const disk = await expectKind(tart.clone('gold', 'vm-d'), 'out-of-disk');
  // Cocoa's wording, as swift-argument-parser prints an NSError (audit tart.md #6).
  expect(disk.stderrLine).toContain('isn’t enough space');
  await tart.clone('gold', 'vm-d'); // the fault was used up
  await expectKind(tart.run('vm-d', runOpts('vm-d')), 'vz-limit');
  await tart.delete('vm-d');
});

test('tart-missing with a nonexistent binary, with install advice', async () => {
  const missing = new TartAdapter({ tartBin: join(w.dir, 'no-such-tart'), logger, env: w.env });
  const e = await expectKind(missing.version(), 'tart-missing');
  expect(e.exitCode).toBe(127);
  expect(e.message).toContain('brew install cirruslabs/cli/tart');
  await expectKind(missing.run('x', runOpts('x')), 'tart-missing');
});

test('usage (exit 64) for a bad name', async () => {
  const e = await expectKind(tart.clone('gold', 'a/b'), 'usage');
  expect(e.exitCode).toBe(64);
  expect(e.stderrLine).toBe('Error: <new-name> should be a local name');
});

test('a timeout kills the tart process itself (ip --wait 60)', async () => {
  await tart.clone('gold', 'vm-t');
  await tart.run('vm-t', runOpts('vm-t'));
  w.faults({ ip: { never: true } });
  // 60 s of --wait, but the adapter gives up after 1.5 s.
  const short = new TartAdapter({ tartBin: w.bin, logger, env: w.env, timeouts: { ipMarginMs: -58_500 } });
  const started = Date.now();
  const e = await expectKind(short.ip('vm-t', 60), 'timeout');
  expect(Date.now() - started).toBeLessThan(10_000);
  expect(e.command).toEqual(['ip', 'vm-t', '--wait', '60']);
  const pid = Number(/killed pid (\d+)/.exec(e.stderrLine)?.[1]);
  expect(pid).toBeGreaterThan(0);
  expect(processAlive(pid)).toBe(false);
  const ps = execFileSync('ps', ['-eo', 'pid,args']).toString();
  expect(ps).not.toMatch(/fake-tart\.js ip vm-t/);
  w.faults({});
  await tart.stop('vm-t', 5);
  await tart.delete('vm-t');
});

test('a hung command times out too', async () => {
  w.faults({ get: { hang: true, times: 1 } });
  const short = new TartAdapter({ tartBin: w.bin, logger, env: w.env, timeouts: { defaultMs: 1000 } });
  await expectKind(short.get('gold'), 'timeout');
  expect(await tart.get('gold')).toMatchObject({ cpu: 4, ramMb: 4096 });
});
