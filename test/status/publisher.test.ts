// The publisher in-process, with the real config loader, a real secret redactor and files in a
// temp dir; tart is a counting stand-in for the port (only `ip` is asked).
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { memoryLogger } from '../../src/core/logger.js';
import type { Observed, QueueEntry } from '../../src/core/model.js';
import type { Remembered } from '../../src/core/memory.js';
import type { Tart } from '../../src/core/ports.js';
import { Secrets } from '../../src/secrets/redact.js';
import type { TickReport } from '../../src/daemon/report.js';
import { StatusPublisher } from '../../src/status/publisher.js';
import { readSnapshot } from '../../src/status/snapshot.js';
import { parsePrometheusText } from './prom-text.js';

const dir = mkdtempSync(join(tmpdir(), 'tf-publisher-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const TOKEN = `ghp_${'s'.repeat(36)}`;
writeFileSync(join(dir, 'pipeline.yml'), 'github: { org: o, runner_name: mac-a }\nhost: { log_dir: ./logs }\nprofiles:\n  coder: { ram_mb: 2048, cpu: 2, timeout_minutes: 60 }\n');
const { config } = loadConfig({ path: join(dir, 'pipeline.yml'), env: { TART_FLEET_HOST_TOTAL_RAM_MB: '16384' }, cwd: dir, hostname: 'mac-a', totalMemBytes: 16 * 2 ** 30 });

let now = Date.parse('2026-01-01T00:00:00Z');
const ipCalls: string[] = [];
const tart = { ip: async (name: string) => (ipCalls.push(name), '192.168.64.5') } as unknown as Tart;

const stats = { requests: 3, notModified: 2, rateLimitRemaining: 4000, rateLimitReset: null, coldestRepoAgeSeconds: 0, repositories: 2, unsweptRepositories: 0, sweptRepositories: 2 };
function observed(): Observed {
  return {
    now,
    tart: { ok: true, value: { foreign: [], ours: [{ name: 'tf-mac-a-coder-7', claim: { profile: 'coder', jobId: 7, attempt: 1 }, state: 'running', ramMb: 2048, cpu: 2, startedAt: now - 5000 }] } },
    github: { ok: true, value: { jobs: [], runners: [], stats } },
  };
}
const gaveUp: QueueEntry = { repo: 'o/a', job_id: 9, name: 'j', profile: 'coder', labels: [], waiting_s: 300, reason: `gave up after 3 failed boots on this Mac (token ${TOKEN})` };
/** The daemon's memory: job 9 used up its three attempts a minute before the first tick. */
function memory(): Remembered {
  const none = new Map();
  return {
    processStartedAt: 0, creating: none, runnerFirstSeen: none, runnerLastOnline: none, vmFirstSeen: none,
    failures: new Map([['coder-9', { causes: ['boot-failed', 'boot-failed', 'runner-lost'], repo: 'o/a', lastAt: Date.parse('2026-01-01T00:00:00Z') - 60_000 }]]),
  };
}
function report(tick: number): TickReport {
  return { tick, ok: true, admitted: 0, deletedVms: 0, deletedRunners: 0, failures: [], durationMs: 20, github: stats, plan: { actions: [], ledger: { used_mb: 2048, ceiling_mb: 12288, vms: 1, max_vms: 2, foreign_mb: 0 }, queue: [gaveUp], blocked: [] }, world: observed(), memory: memory(), creationsEnded: tick === 1 ? [{ profile: 'coder', outcome: 'started', durationMs: 42_000 }, { profile: 'coder', outcome: 'claimed-elsewhere', durationMs: 900 }] : [] };
}

test('each tick writes the snapshot and the metrics (0600, in a 0700 state dir), redacted, IPs asked once per running VM, give-ups from memory', async () => {
  const secrets = new Secrets();
  secrets.add(TOKEN);
  const publisher = new StatusPublisher({ config, tart, clock: { now: () => now, sleep: async () => undefined }, logger: memoryLogger(), secrets });
  await publisher.start();
  expect(statSync(config.host.state_dir).mode & 0o777).toBe(0o700);
  expect(config.host.state_dir).toBe(join(dir, 'state'));

  await publisher.publish(report(1), 15_000);
  now += 15_000;
  await publisher.publish(report(2), 15_000);

  const s = readSnapshot(config.host.state_dir)!;
  expect(s.tick).toBe(2);
  expect(s.vms).toEqual([expect.objectContaining({ name: 'tf-mac-a-coder-7', ip: '192.168.64.5', age_s: 5 })]);
  expect(ipCalls).toEqual(['tf-mac-a-coder-7']);
  // Give-ups come from the daemon's memory (they survive restarts), with when the last attempt failed.
  expect(s.give_ups).toEqual([{ profile: 'coder', job_id: 9, repo: 'o/a', attempts: 3, reason: '2× boot failed, 1× runner lost', since_s: 75 }]);
  expect(s.queue[0]?.reason).toBe('gave up after 3 failed boots on this Mac (token [REDACTED])');
  expect(Date.parse(s.stale_after) - now).toBe(45_000);
  const file = readFileSync(join(config.host.state_dir, 'status.json'), 'utf8');
  expect(file).not.toContain(TOKEN);
  expect(statSync(join(config.host.state_dir, 'status.json')).mode & 0o777).toBe(0o600);
  expect(statSync(config.host.metrics_file).mode & 0o777).toBe(0o600);
  const p = parsePrometheusText(readFileSync(config.host.metrics_file, 'utf8'));
  expect(p.value('tart_fleet_github_requests_total')).toBe(6);
  expect(p.value('tart_fleet_give_ups')).toBe(1);
  // Creations that ended: one started after 42 s, one lost its claim to another Mac (409).
  expect(p.value('tart_fleet_creations_total', { outcome: 'started' })).toBe(1);
  expect(p.value('tart_fleet_creations_total', { outcome: 'claimed_elsewhere' })).toBe(1);
  expect(p.value('tart_fleet_boot_seconds_count', { profile: 'coder' })).toBe(1);
  expect(p.value('tart_fleet_boot_seconds_sum', { profile: 'coder' })).toBe(42);
  await publisher.close();
});

test('a VM still being created is not asked for its IP (its creator is waiting on tart ip); once created, it is asked once', async () => {
  const publisher = new StatusPublisher({ config, tart, clock: { now: () => now, sleep: async () => undefined }, logger: memoryLogger(), secrets: new Secrets() });
  ipCalls.length = 0;
  const creating = new Map([['coder-7', { claim: { profile: 'coder', jobId: 7, attempt: 1 }, vmName: 'tf-mac-a-coder-7', runnerName: 'mac-a-coder-7', repo: 'o/a', ramMb: 2048, os: 'linux' as const, startedAt: now - 5000 }]]);
  for (let tick = 1; tick <= 3; tick++) {
    await publisher.publish({ ...report(tick), memory: { ...memory(), creating } }, 15_000);
    now += 15_000;
  }
  expect(ipCalls).toEqual([]);
  expect(readSnapshot(config.host.state_dir)!.vms).toEqual([expect.objectContaining({ name: 'tf-mac-a-coder-7', ip: null })]);
  await publisher.publish(report(4), 15_000);
  await publisher.publish(report(5), 15_000);
  expect(ipCalls).toEqual(['tf-mac-a-coder-7']);
  expect(readSnapshot(config.host.state_dir)!.vms).toEqual([expect.objectContaining({ ip: '192.168.64.5' })]);
  await publisher.close();
});
