// `ls` from the daemon's status snapshot, and the metrics file, by the real CLI and the real daemon
// against the simulated world; expected values come from the world's own records (the fake
// GitHub's jobs and request counts, the fake tart's VMs), not from the product.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jest } from '@jest/globals';
import { PACKAGE_ROOT } from '../../src/config/package.js';
import { SimWorld, SEED_PROFILES } from '../../src/sim/world.js';
import { waitFor, ourVms } from '../e2e/helpers.js';
import { parsePrometheusText } from '../status/prom-text.js';
import { freePort } from '../sim/guest-helpers.js';
import { BIN, runBin } from './cli-helpers.js';

jest.setTimeout(240_000);

let world: SimWorld;
let metricsPort: number;
const stateDir = () => join(world.dir, 'state');

/** `ls` runs with a token of its own, so its requests are told apart from the running daemon's. */
const LS_TOKEN = `ghp_lsonly${'x'.repeat(30)}`;
const lsRequests = () => world.github.requestsByToken().get(LS_TOKEN) ?? 0;

const cli = (args: string[], extra: Record<string, string> = {}) => runBin([...args, '--config', world.configPath], { env: world.daemonEnv(extra), cwd: world.dir });

function readSnapshotFile(): { last_tick?: { ok: boolean; degraded: string[] } } | undefined {
  try {
    return JSON.parse(readFileSync(join(stateDir(), 'status.json'), 'utf8'));
  } catch {
    return undefined;
  }
}

function metricsText(): string {
  return readFileSync(join(stateDir(), 'tart-fleet.prom'), 'utf8');
}

function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

beforeAll(async () => {
  metricsPort = await freePort();
  world = await SimWorld.create({ speed: 40, config: { host: { metrics_port: metricsPort } } });
  world.github.addToken(LS_TOKEN);
});
afterAll(async () => {
  await world.destroy();
});

test('no snapshot yet: ls says where it looked and how to do without, exit 3', async () => {
  const { code, stdout, stderr } = await cli(['ls']);
  expect(code).toBe(3);
  expect(stdout).toBe('');
  expect(stderr).toContain(`no status snapshot in ${stateDir()}: is \`tart-fleet run\` running? use --live`);
});

test('ls --live with GitHub unreadable says so and exits 4, never "(no queued jobs)"; with tart missing too, both are named', async () => {
  world.queue('coder', { durationS: 5 });
  world.github.revokeTokens();
  try {
    const live = await cli(['ls', '--live']);
    expect(live.code).toBe(4);
    expect(live.stdout).toMatch(/GitHub could not be read/);
    expect(live.stdout).not.toContain('(no queued jobs)');
    expect(live.stdout).toContain('(queue unknown: GitHub could not be read)');
    const both = await cli(['ls', '--live', '--json'], { TART_FLEET_TART_BIN: '/nonexistent/tart' });
    expect(both.code).toBe(4);
    const problems = JSON.parse(both.stdout).problems.join('\n');
    expect(problems).toMatch(/tart could not be read/);
    expect(problems).toMatch(/GitHub could not be read/);
  } finally {
    world.github.addToken(world.token);
    world.github.addToken(LS_TOKEN);
  }
});

describe('with the daemon running', () => {
  const ids: Record<string, number> = {};
  beforeAll(async () => {
    // Long jobs, so the world holds still while it is compared: developer + coder run (all 12288 MB,
    // both macOS slots), marketer waits for RAM, the gpu job matches no profile.
    ids.developer = world.queue('developer', { durationS: 4000 });
    ids.coder2 = world.queue('coder', { durationS: 4000 });
    ids.marketer = world.queue('marketer', { durationS: 4000 });
    ids.gpu = world.queue(['self-hosted', 'gpu'], { name: 'needs a gpu' });
    world.startDaemon();
    await waitFor('the first coder job done', () => world.github.job(ids.developer! - 1).status === 'completed', 90_000, 200);
    await waitFor('developer and coder running, and a tick that saw it in the metrics', () => {
      const running = ['developer', 'coder2'].every((k) => world.github.job(ids[k]!).status === 'in_progress');
      if (!running) return false;
      try {
        return parsePrometheusText(metricsText()).sum('tart_fleet_jobs_running') === 2;
      } catch {
        return false;
      }
    }, 120_000, 200);
  });

  test('ls reads the snapshot: zero GitHub requests, how old it is, exit 0', async () => {
    const { code, stdout } = await cli(['ls'], { TART_FLEET_GITHUB_TOKEN: LS_TOKEN });
    const json = await cli(['ls', '--json'], { TART_FLEET_GITHUB_TOKEN: LS_TOKEN });
    expect(lsRequests()).toBe(0);
    expect(code).toBe(0);
    expect(stdout).toMatch(new RegExp(`daemon pid ${world.daemon!.pid}, tick \\d+, \\d+ s ago`));
    expect(stdout).toContain(`tf-sim-mac-developer-${ids.developer}`);
    expect(stdout).toMatch(/needs 5120 MB/);
    expect(json.code).toBe(0);
    const s = JSON.parse(json.stdout);
    expect(s).toEqual(expect.objectContaining({
      runner_name: 'sim-mac', daemon_pid: world.daemon!.pid, poll_seconds: 1, stale: null, give_ups: [],
      version: JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')).version,
    }));
    expect(typeof s.age_s).toBe('number');
    expect(s.tick).toBeGreaterThan(1);
    expect(Date.parse(s.written_at)).toBeLessThanOrEqual(Date.now());
    expect(s.last_tick).toEqual(expect.objectContaining({ ok: true, degraded: [] }));
    expect(s.github.requests).toBeGreaterThan(0);
    expect(s.queue.map((q: { job_id: number }) => q.job_id).sort()).toEqual([ids.marketer, ids.gpu].sort());
    const names = await ourVms(world);
    expect(s.vms.map((v: { name: string }) => v.name).sort()).toEqual(names.sort());
    for (const vm of s.vms) expect(vm.ip).toMatch(/^127\./);
  });

  test('ls --watch redraws from the snapshot without a GitHub request, until Ctrl-C', async () => {
    const child = spawn(process.execPath, [BIN, 'ls', '--watch', '--config', world.configPath], { env: world.daemonEnv({ TART_FLEET_GITHUB_TOKEN: LS_TOKEN }), cwd: world.dir });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    await waitFor('two frames', () => (out.match(/Ctrl-C to stop/g) ?? []).length >= 2, 30_000);
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(lsRequests()).toBe(0);
    expect((out.match(/tart-fleet on sim-mac: daemon pid/g) ?? []).length).toBeGreaterThanOrEqual(2);
  });

  test('the metrics file is strict Prometheus text whose values match the simulated world; the same on 127.0.0.1:<port>/metrics', async () => {
    const p = parsePrometheusText(metricsText());
    const running = world.github.jobs().filter((j) => j.status === 'in_progress');
    const profileOf = (labels: string[]) => labels.find((l) => l !== 'self-hosted')!;
    const ram = running.reduce((a, j) => a + SEED_PROFILES[profileOf(j.labels)]!.ram_mb, 0);
    expect(ram).toBe(8192 + 4096);
    expect(p.value('tart_fleet_ram_used_bytes')).toBe(ram * 1024 * 1024);
    expect(p.value('tart_fleet_ram_ceiling_bytes')).toBe((16 - 4) * 1024 * 1024 * 1024);
    expect(p.value('tart_fleet_macos_vms')).toBe(2); // developer and coder: the shipped profiles are macOS guests
    expect(p.value('tart_fleet_macos_vms_max')).toBe(2);
    expect(p.value('tart_fleet_vms', { state: 'running' })).toBe((await world.tartList()).filter((v) => v.State === 'running').length);
    expect(p.value('tart_fleet_jobs_running', { profile: 'developer' })).toBe(1);
    expect(p.value('tart_fleet_jobs_running', { profile: 'coder' })).toBe(1);
    expect(p.value('tart_fleet_jobs_queued', { profile: 'marketer' })).toBe(1);
    expect(p.value('tart_fleet_jobs_queued', { profile: 'none' })).toBe(1);
    // Three jobs ran here (the first coder job, then developer and coder); each was admitted once.
    expect(p.value('tart_fleet_admissions_total')).toBe(world.github.runners().length);
    // Each job's wait is observed once, when it leaves the queue, from the last `waiting_s` the
    // daemon saw: never more than the real wait (the world's history), give or take 3 s a job
    // (GitHub's created_at has whole seconds, waiting_s is rounded, and the sweep sees a start up
    // to a poll (1 s here) after it happened, longer on a loaded machine's slower ticks).
    for (const profile of ['developer', 'coder']) {
      const started = world.github.jobs().filter((j) => profileOf(j.labels) === profile && j.history.some((h) => h.status === 'in_progress'));
      const realWait = started.reduce((a, j) => a + (j.history.find((h) => h.status === 'in_progress')!.at - j.history[0]!.at) / 1000, 0);
      expect(p.value('tart_fleet_queue_wait_seconds_count', { profile })).toBeGreaterThanOrEqual(1);
      expect(p.value('tart_fleet_queue_wait_seconds_sum', { profile })).toBeLessThanOrEqual(realWait + 3 * started.length);
    }
    const requests = p.value('tart_fleet_github_requests_total')!;
    expect(requests).toBeGreaterThan(0);
    expect(requests).toBeLessThanOrEqual(world.github.requestCount());
    expect(p.value('tart_fleet_github_not_modified_total')).toBeLessThanOrEqual(world.github.notModifiedCount);
    expect(p.value('tart_fleet_github_rate_limit_remaining')).toBeGreaterThanOrEqual(world.github.rateLimit().remaining);
    expect(p.value('tart_fleet_vms_deleted_total')).toBeGreaterThanOrEqual(1); // the first coder job's VM
    expect(p.value('tart_fleet_source_up', { source: 'github' })).toBe(1);
    expect(p.value('tart_fleet_last_successful_tick_timestamp_seconds')! * 1000).toBeLessThanOrEqual(Date.now());
    expect(p.value('tart_fleet_ticks_total', { result: 'ok' })).toBeGreaterThanOrEqual(2);

    const served = await httpGet(metricsPort, '/metrics');
    expect(served.status).toBe(200);
    expect(parsePrometheusText(served.body).value('tart_fleet_ram_used_bytes')).toBe(ram * 1024 * 1024);
  });

  test('GitHub unreadable: the next snapshot is degraded, ls says why and exits 4, still without a request of its own', async () => {
    world.github.revokeTokens();
    try {
      await waitFor('a degraded snapshot', () => (readSnapshotFile()?.last_tick?.degraded?.length ?? 0) > 0, 60_000, 200);
      const { code, stdout } = await cli(['ls'], { TART_FLEET_GITHUB_TOKEN: LS_TOKEN });
      const json = await cli(['ls', '--json'], { TART_FLEET_GITHUB_TOKEN: LS_TOKEN });
      expect(lsRequests()).toBe(0);
      expect(code).toBe(4);
      expect(stdout).toMatch(/^! degraded: GitHub could not be read/m);
      expect(stdout).toContain('(queue unknown: GitHub could not be read)');
      expect(json.code).toBe(4);
      expect(json.stderr).toMatch(/degraded: GitHub could not be read/);
      expect(JSON.parse(json.stdout).last_tick.ok).toBe(false);
      expect(parsePrometheusText(metricsText()).value('tart_fleet_source_up', { source: 'github' })).toBe(0);
    } finally {
      world.github.addToken(world.token);
      world.github.addToken(LS_TOKEN);
    }
    await waitFor('a healthy snapshot again', () => readSnapshotFile()?.last_tick?.ok === true, 90_000, 200);
  });

  test('the daemon gone: ls exits 3 saying so; its metrics port is closed', async () => {
    expect(await world.stopDaemon()).toBe(0);
    const { code, stdout } = await cli(['ls']);
    expect(code).toBe(3);
    expect(stdout).toMatch(/stale status snapshot .*the daemon that wrote it \(pid \d+\) is not running/);
    await expect(httpGet(metricsPort, '/metrics')).rejects.toThrow(/ECONNREFUSED/);
  });
});

test('a daemon alive but no longer ticking: exit 3 once the snapshot is past stale_after (read with --state-dir)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tf-stuck-'));
  try {
    const s = readSnapshotFile()!;
    // This test process stands in for a live but stuck daemon.
    writeFileSync(join(dir, 'status.json'), JSON.stringify({ ...s, daemon_pid: process.pid, written_at: new Date(Date.now() - 60_000).toISOString(), stale_after: new Date(Date.now() - 1000).toISOString() }));
    const { code, stdout } = await cli(['ls', '--state-dir', dir]);
    expect(code).toBe(3);
    expect(stdout).toMatch(/no tick for \d+ s .*stuck/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
