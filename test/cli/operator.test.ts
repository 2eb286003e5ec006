// The operator commands (teardown, cache prune, disk) as a user runs them: the real bin, in a child
// process, against the simulated world; asserted from the world's own records (fake tart's VMs, fake
// GitHub's runners) and the filesystem. One in-process run covers the TTY prompt.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, lstatSync, lutimesSync, mkdirSync, mkdtempSync, readlinkSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { Readable, Writable } from 'node:stream';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { jest } from '@jest/globals';
import { SimWorld } from '../../src/sim/world.js';
import { teardownCommand } from '../../src/cli/teardown.js';
import { runBin, simWorldForAll } from './cli-helpers.js';

jest.setTimeout(60_000);

let world: SimWorld;
simWorldForAll({ speed: 40 }, (w) => (world = w));

const cli = (args: string[], env: NodeJS.ProcessEnv) => runBin(args, { env, cwd: world.dir });
const inWorld = (args: string[], extra: Record<string, string> = {}) => cli([...args, '--config', world.configPath], world.daemonEnv(extra));
const tart = (...args: string[]) => execFileSync(world.tartBin, args, { env: { ...process.env, ...world.simEnv() } }).toString();
const vmNames = async () => (await world.tartList()).map((v) => v.Name).sort();
const liveRunners = () => world.github.runners().filter((r) => r.deletedAt === null).map((r) => r.name).sort();
const OURS = ['tf-host-sim-mac'];

/** Starts `tart run` detached, as the daemon does, and waits until tart lists the VM as running. */
async function runVm(name: string): Promise<void> {
  spawn(world.tartBin, ['run', name, '--no-graphics'], { env: { ...process.env, ...world.simEnv() }, detached: true, stdio: 'ignore' }).unref();
  for (let i = 0; i < 100; i++) {
    if ((await world.tartList()).some((v) => v.Name === name && v.State === 'running')) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${name} never ran`);
}

describe('teardown', () => {
  const foreign = ['my-own-vm', 'tf-other-mac-coder-1', 'tf-sim-mac-not_a_claim', 'workhorse', 'workhorse-linux'];
  const foreignRunners = ['tf-coder-900', 'tf-weird'];

  beforeAll(async () => {
    for (const vm of ['tf-sim-mac-coder-1', 'tf-sim-mac-marketer-2-2', 'tf-other-mac-coder-1', 'my-own-vm', 'tf-sim-mac-not_a_claim']) tart('clone', 'workhorse', vm);
    await runVm('tf-sim-mac-coder-1');
    await runVm('tf-other-mac-coder-1');
    const w = world.github.world;
    w.createRunner('tf-coder-1', ['self-hosted', 'coder', ...OURS], 1, 'secret');
    w.createRunner('tf-marketer-2-2', ['self-hosted', 'marketer', ...OURS], 1, 'secret');
    w.createRunner('tf-coder-900', ['self-hosted', 'coder', 'tf-host-other-mac'], 1, 'secret'); // another Mac's
    w.createRunner('tf-weird', ['self-hosted', ...OURS], 1, 'secret'); // our label, but not a name we make
  });

  test('without --yes and without a TTY it lists what it would remove, exits 2 and removes nothing', async () => {
    const before = { vms: await vmNames(), runners: liveRunners() };
    const { code, stdout, stderr } = await inWorld(['teardown']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/stdin is not a TTY; pass --yes/);
    expect(stderr).toMatch(/^warning: no daemon runs on \S+; a `tart-fleet run` elsewhere with runner_name sim-mac would re-create VMs/m);
    for (const name of ['tf-sim-mac-coder-1', 'tf-sim-mac-marketer-2-2', 'tf-coder-1', 'tf-marketer-2-2']) expect(stdout).toContain(name);
    for (const name of [...foreign, ...foreignRunners]) expect(stdout).not.toContain(name);
    expect(await vmNames()).toEqual(before.vms);
    expect(liveRunners()).toEqual(before.runners);
  });

  test('on a TTY, answering anything but yes removes nothing', async () => {
    const before = { vms: await vmNames(), runners: liveRunners() };
    const out = collect();
    const stdin = Object.assign(Readable.from(['n\n']), { isTTY: true });
    const code = await teardownCommand({ ...ctxFor(out), stdin }, { config: world.configPath });
    expect(code).toBe(1);
    expect(out.text()).toMatch(/\[y\/N\]/);
    expect(out.text()).toMatch(/aborted: nothing removed/);
    expect(await vmNames()).toEqual(before.vms);
    expect(liveRunners()).toEqual(before.runners);
  });

  test("--yes removes exactly this host's VMs (running or not) and runners, and nothing else", async () => {
    const { code, stdout, stderr } = await inWorld(['teardown', '--yes']);
    expect(stderr).not.toMatch(/FAILED|busy/);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^removed VM tf-sim-mac-coder-1 \(stopped from running\)$/m);
    expect(stdout).toMatch(/^removed VM tf-sim-mac-marketer-2-2$/m);
    expect(stdout).toMatch(/^removed runner tf-coder-1 \(id \d+\)$/m);
    expect(stdout).toMatch(/^removed runner tf-marketer-2-2 \(id \d+\)$/m);
    expect(await vmNames()).toEqual(foreign);
    expect((await world.tartList()).find((v) => v.Name === 'tf-other-mac-coder-1')?.State).toBe('running');
    expect(liveRunners()).toEqual(foreignRunners);
    const deletes = world.tartEvents().filter((e) => e.event === 'delete' || e.event === 'stop').map((e) => e.vm);
    expect(new Set(deletes)).toEqual(new Set(['tf-sim-mac-coder-1', 'tf-sim-mac-marketer-2-2']));

    // Nothing left: a second run says so and succeeds.
    const again = await inWorld(['teardown', '--yes']);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/nothing to remove/);
  });

  test('fails closed: tart unreadable → no VM touched, runners still cleaned, exit 1', async () => {
    tart('clone', 'workhorse', 'tf-sim-mac-coder-5');
    world.github.world.createRunner('tf-coder-5', ['self-hosted', 'coder', ...OURS], 1, 'secret');
    const { code, stdout, stderr } = await inWorld(['teardown', '--yes'], { TART_FLEET_TART_BIN: join(world.dir, 'no-such-tart') });
    expect(code).toBe(1);
    expect(stderr).toMatch(/tart could not be read, so no VM will be removed/);
    expect(stdout).toMatch(/^removed runner tf-coder-5/m);
    expect(await vmNames()).toContain('tf-sim-mac-coder-5');

    // And without GitHub credentials, the VMs still go but no runner is touched (asked on a TTY: yes).
    world.github.world.createRunner('tf-coder-6', ['self-hosted', 'coder', ...OURS], 1, 'secret');
    const out = collect();
    const stdin = Object.assign(Readable.from(['yes\n']), { isTTY: true });
    const code2 = await teardownCommand({ ...ctxFor(out), env: world.daemonEnv({ TART_FLEET_GITHUB_TOKEN: '' }), stdin }, { config: world.configPath });
    expect(code2).toBe(1);
    expect(out.text()).toMatch(/GitHub could not be read, so no runner will be removed/);
    expect(out.text()).toMatch(/removed VM tf-sim-mac-coder-5$/m); // after the prompt: a real TTY echoes the answer's newline
    expect(await vmNames()).not.toContain('tf-sim-mac-coder-5');
    expect(liveRunners()).toContain('tf-coder-6'); // the next test's teardown removes it
  });

  test("a runner busy with a job is reported once, not retried; the job's VM is stopped and deleted", async () => {
    // GitHub's own assignment: a runner with an open session takes the queued job it matches.
    const id = world.queue('marketer', { durationS: 4000 });
    const runner = world.github.world.createRunner(`tf-marketer-${id}`, ['self-hosted', 'marketer', ...OURS], 1, 'secret');
    runner.sessionId = 'session-of-the-guest';
    expect(world.github.world.assign()).toEqual([runner]);
    tart('clone', 'workhorse', `tf-sim-mac-marketer-${id}`);
    await runVm(`tf-sim-mac-marketer-${id}`);

    const DELETE = 'DELETE /orgs/{org}/actions/runners/{runner_id}';
    const deletesBefore = world.github.requestCount(DELETE);
    const { code, stdout, stderr } = await inWorld(['teardown', '--yes']);
    expect(stdout).toMatch(new RegExp(`^removed VM tf-sim-mac-marketer-${id} \\(stopped from running\\)$`, 'm'));
    expect(stdout).toMatch(/^removed runner tf-coder-6 /m);
    expect(stderr).toMatch(new RegExp(`^runner tf-marketer-${id} \\(id \\d+\\) is busy with a job: not removed`, 'm'));
    expect(code).toBe(1);
    expect(world.github.requestCount(DELETE) - deletesBefore).toBe(2); // tf-coder-6, and the busy one once
    expect((await vmNames()).filter((n) => n.startsWith('tf-sim-mac-'))).toEqual(['tf-sim-mac-not_a_claim']);
    expect(liveRunners()).toEqual([...foreignRunners, `tf-marketer-${id}`].sort());
  });
});

describe('cache prune', () => {
  const DAY = 86_400;
  let cache: string;
  let outside: string;
  const age = (path: string, days: number) => {
    const t = Date.now() / 1000 - days * DAY;
    utimesSync(path, t, t);
  };

  afterEach(() => {
    rmSync(outside, { recursive: true, force: true });
  });

  beforeEach(() => {
    cache = join(world.dir, 'cache');
    rmSync(cache, { recursive: true, force: true }); // unlinks links, never follows them
    mkdirSync(join(cache, 'old-dir', 'deeper'), { recursive: true });
    mkdirSync(join(cache, 'mixed'), { recursive: true });
    writeFileSync(join(cache, 'old.tar'), 'x'.repeat(10_000));
    writeFileSync(join(cache, 'new.tar'), 'fresh');
    writeFileSync(join(cache, 'old-dir', 'deeper', 'a.bin'), 'old');
    writeFileSync(join(cache, 'mixed', 'old.txt'), 'old');
    writeFileSync(join(cache, 'mixed', 'new.txt'), 'new');
    outside = mkdtempSync(join(tmpdir(), 'tf-outside-'));
    writeFileSync(join(outside, 'precious'), 'keep me');
    age(join(outside, 'precious'), 30);
    age(outside, 30);
    symlinkSync(outside, join(cache, 'link-out'));
    symlinkSync(outside, join(cache, 'young-link'));
    // Ages are set bottom-up: writing a child bumps its directory.
    for (const p of ['old.tar', 'old-dir/deeper/a.bin', 'old-dir/deeper', 'old-dir', 'mixed/old.txt', 'mixed']) age(join(cache, p), 10);
    const t = Date.now() / 1000 - 10 * DAY;
    lutimesSync(join(cache, 'link-out'), t, t); // the link's own mtime, not its target's
  });

  test('--dry-run lists the old entries and removes nothing', async () => {
    const { code, stdout } = await inWorld(['cache', 'prune', '--older-than', '7d', '--dry-run']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/would remove .* old\.tar$/m);
    expect(stdout).toMatch(/would free .*dry run: nothing removed/);
    for (const p of ['old.tar', 'old-dir/deeper/a.bin', 'old-dir', 'mixed/old.txt', 'link-out']) expect(() => lstatSync(join(cache, p))).not.toThrow();
  });

  test('removes only what is older, bottom-up, never following a link out of the cache', async () => {
    const { code, stdout } = await inWorld(['cache', 'prune', '--older-than', '7d']);
    expect(code).toBe(0);
    const removed = stdout.split('\n').filter((l) => l.startsWith('removed')).map((l) => l.trim().split(/\s+/).pop()).sort();
    expect(removed).toEqual(['link-out', 'mixed/old.txt', 'old-dir/', 'old-dir/deeper/', 'old-dir/deeper/a.bin', 'old.tar']);
    expect(stdout).toMatch(/^freed .*\(\d+ bytes\): 4 file\(s\), 2 directories older than 7d/m);
    expect(existsSync(join(cache, 'new.tar'))).toBe(true);
    expect(existsSync(join(cache, 'mixed', 'new.txt'))).toBe(true);
    expect(existsSync(join(cache, 'mixed'))).toBe(true); // its old directory holds a young file
    expect(existsSync(join(cache, 'old-dir'))).toBe(false);
    expect(existsSync(cache)).toBe(true);
    // The old link itself went, the young one stays; what they point at (30 days old) is untouched.
    expect(() => readlinkSync(join(cache, 'link-out'))).toThrow();
    expect(readlinkSync(join(cache, 'young-link'))).toBe(outside);
    expect(existsSync(join(outside, 'precious'))).toBe(true);
  });

  test('a bad --older-than exits 2 naming the option', async () => {
    for (const bad of ['7', '0d']) {
      const { code, stderr } = await inWorld(['cache', 'prune', '--older-than', bad]);
      expect(code).toBe(2);
      expect(stderr).toMatch(/^--older-than: must be/m);
    }
    expect((await inWorld(['cache', 'prune'])).code).toBe(2);
  });
});

test('disk --json splits our VMs, other VMs and golden images, and reports caches and free disk', async () => {
  const present = await vmNames();
  for (const vm of ['tf-sim-mac-developer-77', 'my-own-vm', 'tf-other-mac-coder-1', 'tf-sim-mac-not_a_claim']) if (!present.includes(vm)) tart('clone', 'workhorse', vm);
  mkdirSync(join(world.tartHome, 'cache', 'OCIs', 'ghcr.io', 'cirruslabs'), { recursive: true });
  writeFileSync(join(world.tartHome, 'cache', 'OCIs', 'ghcr.io', 'cirruslabs', 'blob'), 'y'.repeat(50_000));
  const { code, stdout } = await inWorld(['disk', '--json']);
  expect(code).toBe(0);
  const d = JSON.parse(stdout);
  expect(d.runner_name).toBe('sim-mac');
  expect(d.tart_home).toBe(world.tartHome);
  const kinds = Object.fromEntries(d.vms.map((v: { name: string; kind: string }) => [v.name, v.kind]));
  expect(kinds).toEqual(expect.objectContaining({ 'tf-sim-mac-developer-77': 'ours', workhorse: 'golden', 'workhorse-linux': 'other', 'my-own-vm': 'other', 'tf-other-mac-coder-1': 'other', 'tf-sim-mac-not_a_claim': 'other' }));
  expect(d.ours.count).toBe(1);
  expect(d.golden.count).toBe(1); // workhorse; no profile of the shipped config clones workhorse-linux
  expect(d.other.count).toBe(4);
  for (const g of [d.ours, d.golden, d.other]) expect(g.apparent_bytes).toBeGreaterThan(0);
  expect(d.oci_cache).toEqual({ path: join(world.tartHome, 'cache', 'OCIs'), exists: true, bytes: expect.any(Number) });
  expect(d.oci_cache.bytes).toBeGreaterThanOrEqual(50_000);
  expect(d.cache_dir.exists).toBe(true);
  expect(d.free_disk.free_bytes).toBeGreaterThan(0);
  expect(d.free_disk.total_bytes).toBeGreaterThanOrEqual(d.free_disk.free_bytes);

  const human = await inWorld(['disk']);
  expect(human.code).toBe(0);
  expect(human.stdout).toMatch(/our VMs \(tf-sim-mac-\*\)/);
  expect(human.stdout).toMatch(/tf-sim-mac-developer-77/);
});

function collect(): Writable & { text(): string } {
  const chunks: string[] = [];
  const w = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  return Object.assign(w, { text: () => chunks.join('') });
}

function ctxFor(out: Writable) {
  return { env: world.daemonEnv(), cwd: world.dir, stdout: out, stderr: out, hostname: hostname(), totalMemBytes: 16 * 1024 ** 3 };
}
