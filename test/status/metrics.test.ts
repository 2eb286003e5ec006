// The metrics module against a strict Prometheus text parser: the parser itself is checked first
// (it must reject what Prometheus rejects, or its passes would prove nothing).
import { get } from 'node:http';
import { FleetMetrics, serveMetrics } from '../../src/status/metrics.js';
import { decide, JOB_PHASES, RUNNER_PHASES, VM_PHASES } from '../../src/core/lifecycle.js';
import type { Action } from '../../src/core/model.js';
import type { StatusSnapshot } from '../../src/status/snapshot.js';
import type { TickReport } from '../../src/daemon/report.js';
import { parsePrometheusText } from './prom-text.js';

describe('the strict parser', () => {
  test.each([
    ['a bad name', 'tart-fleet_x 1\n'],
    ['an unquoted label', 'x{a=b} 1\n'],
    ['a bad escape', 'x{a="\\t"} 1\n'],
    ['a bad value', 'x 1,5\n'],
    ['a negative counter', '# TYPE x_total counter\nx_total -1\n'],
    ['a duplicate series', 'x{a="1"} 1\nx{a="1"} 2\n'],
    ['a split family', 'x 1\ny 1\nx{a="2"} 1\n'],
    ['TYPE after samples', 'x 1\n# TYPE x gauge\n'],
    ['no final newline', 'x 1'],
    ['buckets that are not cumulative', '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n'],
    ['a _count that differs from +Inf', '# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 2\n'],
  ])('rejects %s', (_what, text) => {
    expect(() => parsePrometheusText(text)).toThrow();
  });
  test('accepts escapes, NaN and a histogram', () => {
    const p = parsePrometheusText('# TYPE g gauge\ng{a="q\\"\\\\\\n"} NaN\n# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 3.5\nh_count 2\n');
    expect(p.value('g', { a: 'q"\\\n' })).toBeNaN();
    expect(p.value('h_count')).toBe(2);
  });
});

function snapshot(over: Partial<StatusSnapshot> = {}): StatusSnapshot {
  return {
    schema: 1, runner_name: 'mac-a', version: '0.1.0', daemon_pid: 1, tick: 1, poll_seconds: 15,
    written_at: '2026-01-01T00:00:10.000Z', observed_at: '2026-01-01T00:00:09.000Z', stale_after: '2026-01-01T00:01:00.000Z',
    ledger: { used_mb: 10240, ceiling_mb: 12288, vms: 2, max_vms: 2, foreign_mb: 0 },
    vms: [
      { name: 'tf-mac-a-coder-1', profile: 'coder', state: 'running', creating: false, repo: 'o/a', job_id: 1, age_s: 5, ram_mb: 2048, cpu: 2, ip: null, runner: 'tf-coder-1', runner_status: 'busy' },
      { name: 'tf-mac-a-developer-2', profile: 'developer', state: 'running', creating: true, repo: 'o/a', job_id: 2, age_s: 1, ram_mb: 8192, cpu: 6, ip: null, runner: null, runner_status: null },
    ],
    queue: [
      { repo: 'o/a', job_id: 3, name: 'j', profile: 'marketer', labels: [], waiting_s: 40, reason: 'needs 5120 MB, 2048 MB free' },
      { repo: 'o/b', job_id: 4, name: 'k', profile: null, labels: [], waiting_s: 40, reason: 'no profile matches [self-hosted, gpu]' },
      { repo: 'o/c', job_id: 5, name: 'l', profile: 'coder', labels: [], waiting_s: 99, reason: 'gave up after 3 failed boots on this Mac' },
    ],
    creating: [{ vm: 'tf-mac-a-developer-2', profile: 'developer', job_id: 2, age_s: 1 }],
    problems: [],
    github: { requests: 7, not_modified: 5, rate_limit_remaining: 4990, rate_limit_reset: null, coldest_repo_age_s: 0, repositories: 3, unswept_repositories: 0 },
    github_budget: { per_minute: 300, last_minute: 42, backoff_until: null, backoff_reason: null, backoffs: 0 },
    last_tick: { ok: true, failures: [], action_failures: [], degraded: [], duration_ms: 1500, admitted: 1, deleted_vms: 1, deleted_runners: 0 },
    last_ok_tick_at: '2026-01-01T00:00:10.000Z',
    give_ups: [{ profile: 'coder', job_id: 5, repo: 'o/c', attempts: 3, reason: '3× boot failed', since_s: 60 }],
    admission: 'open', draining_since: null, draining_note: null,
    ...over,
  };
}

const report = (over: Partial<TickReport> = {}): TickReport => ({
  tick: 1, ok: true, admitted: 1, deletedVms: 1, deletedRunners: 0, failures: [], durationMs: 1500, creationsEnded: [],
  plan: { actions: [{ kind: 'delete-vm', vmName: 'tf-mac-a-coder-9', claim: { profile: 'coder', jobId: 9, attempt: 0 }, stop: false, cause: 'job-done', reason: 'VM is stopped and its runner is gone: job finished' }], ledger: undefined, queue: [], blocked: [] },
  ...over,
} as TickReport);

test('one tick: every value is what the snapshot and report say, in strict Prometheus text', async () => {
  const m = new FleetMetrics();
  m.record(snapshot(), report());
  const p = parsePrometheusText(await m.text());
  expect(p.value('tart_fleet_jobs_queued', { profile: 'marketer' })).toBe(1);
  expect(p.value('tart_fleet_jobs_queued', { profile: 'none' })).toBe(1);
  expect(p.value('tart_fleet_jobs_running', { profile: 'coder' })).toBe(1);
  expect(p.value('tart_fleet_vms', { state: 'running' })).toBe(2);
  expect(p.value('tart_fleet_creations_in_progress')).toBe(1);
  expect(p.value('tart_fleet_ram_used_bytes')).toBe(10240 * 1024 * 1024);
  expect(p.value('tart_fleet_ram_ceiling_bytes')).toBe(12288 * 1024 * 1024);
  expect(p.value('tart_fleet_macos_vms')).toBe(2);
  expect(p.value('tart_fleet_github_requests_total')).toBe(7);
  expect(p.value('tart_fleet_github_not_modified_total')).toBe(5);
  expect(p.value('tart_fleet_github_rate_limit_remaining')).toBe(4990);
  expect(p.value('tart_fleet_deletions_planned_total', { what: 'vm', reason: 'job_done' })).toBe(1);
  expect(p.value('tart_fleet_give_ups')).toBe(1);
  expect(p.value('tart_fleet_last_successful_tick_timestamp_seconds')).toBe(Date.parse('2026-01-01T00:00:10.000Z') / 1000);
  expect(p.value('tart_fleet_tick_duration_seconds_count')).toBe(1);
  expect(p.types.get('tart_fleet_queue_wait_seconds')).toBe('histogram');
  expect(p.value('tart_fleet_draining')).toBe(0);
  expect(p.value('tart_fleet_build_info', { version: '0.1.0' })).toBe(1);
  m.record(snapshot({ admission: 'draining', draining_since: '2026-01-01T00:00:00.000Z', draining_note: 'drained at 2026-01-01T00:00:00.000Z' }), report());
  expect(parsePrometheusText(await m.text()).value('tart_fleet_draining')).toBe(1);
});

test('a job leaving the queue is observed once in the queue-wait histogram; an unreadable GitHub is unknown, not an empty queue', async () => {
  const m = new FleetMetrics();
  m.record(snapshot(), report());
  m.record(snapshot({ github: null, queue: [], last_tick: { ...snapshot().last_tick, ok: false, degraded: ['GitHub could not be read: 502'] } }), report({ ok: false }));
  let p = parsePrometheusText(await m.text());
  expect(p.value('tart_fleet_queue_wait_seconds_count', { profile: 'marketer' })).toBeUndefined();
  expect(p.sum('tart_fleet_jobs_queued')).toBe(0);
  expect(p.value('tart_fleet_source_up', { source: 'github' })).toBe(0);
  expect(p.value('tart_fleet_observation_failures_total', { source: 'github' })).toBe(1);
  expect(p.value('tart_fleet_github_requests_total')).toBe(7);
  m.record(snapshot({ queue: [snapshot().queue![1]!] }), report());
  p = parsePrometheusText(await m.text());
  expect(p.value('tart_fleet_queue_wait_seconds_count', { profile: 'marketer' })).toBe(1);
  expect(p.value('tart_fleet_queue_wait_seconds_sum', { profile: 'marketer' })).toBe(40);
  expect(p.value('tart_fleet_queue_wait_seconds_count', { profile: 'coder' })).toBe(1);
  expect(p.value('tart_fleet_source_up', { source: 'github' })).toBe(1);
  expect(p.value('tart_fleet_github_requests_total')).toBe(14);
});

test('the GitHub budget: requests in the last minute, the budget, and a back-off while GitHub is unreadable', async () => {
  const m = new FleetMetrics();
  m.record(snapshot(), report());
  let p = parsePrometheusText(await m.text());
  expect(p.value('tart_fleet_github_requests_last_minute')).toBe(42);
  expect(p.value('tart_fleet_github_requests_per_minute_budget')).toBe(300);
  expect(p.value('tart_fleet_github_backoff_seconds')).toBe(0);
  expect(p.value('tart_fleet_github_backoffs_total')).toBe(0);
  const backingOff = { per_minute: 300, last_minute: 43, backoff_until: '2026-01-01T00:01:09.000Z', backoff_reason: 'secondary rate limit', backoffs: 1 };
  m.record(snapshot({ github: null, queue: [], github_budget: backingOff }), report({ ok: false }));
  m.record(snapshot({ github: null, queue: [], github_budget: backingOff }), report({ ok: false }));
  p = parsePrometheusText(await m.text());
  expect(p.value('tart_fleet_github_backoff_seconds')).toBe(60); // observed_at is 00:00:09
  expect(p.value('tart_fleet_github_backoffs_total')).toBe(1); // one episode, seen on two ticks
});

test('tart unreadable: RAM and macOS slots are NaN, not 0', async () => {
  const m = new FleetMetrics();
  m.record(snapshot({ ledger: { used_mb: null, ceiling_mb: 12288, vms: null, max_vms: 2, foreign_mb: null }, vms: [] }), report({ ok: false }));
  const p = parsePrometheusText(await m.text());
  expect(p.value('tart_fleet_ram_used_bytes')).toBeNaN();
  expect(p.value('tart_fleet_macos_vms')).toBeNaN();
  expect(p.value('tart_fleet_source_up', { source: 'tart' })).toBe(0);
  expect(p.value('tart_fleet_last_tick_ok')).toBe(0);
});

test("a deletion is labelled by its decision's cause code: rewording a rule of the lifecycle table changes no label", async () => {
  const labels = async (reword: (reason: string) => string) => {
    const actions: Action[] = [];
    for (const vm of VM_PHASES) for (const runner of RUNNER_PHASES) for (const job of JOB_PHASES) {
      const d = decide(vm, runner, job);
      const reason = reword(d.reason);
      if (d.deleteVm) actions.push({ kind: 'delete-vm', vmName: 'tf-mac-a-coder-9', claim: { profile: 'coder', jobId: 9, attempt: 0 }, stop: true, cause: d.cause, reason });
      if (d.deleteRunner) actions.push({ kind: 'delete-runner', runnerId: 1, runnerName: 'tf-coder-9', cause: d.cause, reason });
    }
    const m = new FleetMetrics();
    m.record(snapshot(), report({ plan: { actions, ledger: undefined, queue: [], blocked: [] } }));
    const p = parsePrometheusText(await m.text());
    return p.samples.filter((x) => x.name === 'tart_fleet_deletions_planned_total').map((x) => `${x.labels.what}:${x.labels.reason}=${x.value}`).sort();
  };
  const asWritten = await labels((r) => r);
  expect(await labels(() => 'a sentence nobody wrote before')).toEqual(asWritten);
  expect(await labels((r) => r.toUpperCase())).toEqual(asWritten);
  // Bounded, and each one a cause of the table (no catch-all `other`).
  const reasons = new Set(asWritten.map((l) => l.split(/[:=]/)[1]!));
  expect([...reasons].sort()).toEqual(['boot_failed', 'ghost_demand', 'job_done', 'no_vm', 'runner_lost', 'runner_offline', 'runner_unused', 'timeout', 'vm_stopped']);
});

test('the boot proof: one gauge per image, 1 passed, 0 failed, NaN while under way', async () => {
  const m = new FleetMetrics();
  const world = { now: 0, tart: { ok: false, error: 'x' }, github: { ok: false, error: 'x' }, bootProof: { workhorse: { status: 'failed', reason: 'keychain: …' }, 'workhorse-linux': { status: 'passed' }, other: { status: 'pending' } } };
  m.record(snapshot(), report({ world } as Partial<TickReport>));
  const p = parsePrometheusText(await m.text());
  expect(p.value('tart_fleet_boot_proof_passed', { image: 'workhorse' })).toBe(0);
  expect(p.value('tart_fleet_boot_proof_passed', { image: 'workhorse-linux' })).toBe(1);
  expect(p.value('tart_fleet_boot_proof_passed', { image: 'other' })).toBeNaN();
});

test('served on 127.0.0.1 only: GET /metrics answers the text, anything else 404', async () => {
  const m = new FleetMetrics();
  m.record(snapshot(), report());
  const server = await serveMetrics(0, m);
  try {
    const address = server.address();
    expect(typeof address === 'object' && address?.address).toBe('127.0.0.1');
    const port = typeof address === 'object' && address ? address.port : 0;
    const fetchText = (path: string) => new Promise<{ status: number; body: string }>((resolve, reject) => {
      get({ host: '127.0.0.1', port, path }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      }).on('error', reject);
    });
    const ok = await fetchText('/metrics');
    expect(ok.status).toBe(200);
    expect(parsePrometheusText(ok.body).value('tart_fleet_give_ups')).toBe(1);
    expect((await fetchText('/')).status).toBe(404);
  } finally {
    await new Promise((r) => server.close(r));
  }
});

describe('GET /healthz', () => {
  const get200 = async (m: FleetMetrics) => {
    const server = await serveMetrics(0, m);
    try {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      return await new Promise<{ status: number; body: string }>((resolve, reject) => {
        get({ host: '127.0.0.1', port, path: '/healthz' }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        }).on('error', reject);
      });
    } finally {
      await new Promise((r) => server.close(r));
    }
  };
  const fresh = (over: Partial<StatusSnapshot> = {}) => {
    const now = Date.now();
    return snapshot({ written_at: new Date(now - 2000).toISOString(), stale_after: new Date(now + 60_000).toISOString(), tick: 9, ...over });
  };

  test('200 with one line while the last tick is fresh and ok', async () => {
    const m = new FleetMetrics();
    m.record(fresh(), report());
    const r = await get200(m);
    expect(r).toEqual({ status: 200, body: expect.stringMatching(/^ok: tick 9, [23] s ago\n$/) });
  });

  test('503 before any tick, after a failed tick, and once the snapshot is stale', async () => {
    const m = new FleetMetrics();
    expect(await get200(m)).toEqual({ status: 503, body: 'no tick yet\n' });
    m.record(fresh({ last_tick: { ...snapshot().last_tick, ok: false, degraded: ['GitHub could not be read: HTTP 502\n<html>…'] } }), report({ ok: false }));
    expect(await get200(m)).toEqual({ status: 503, body: expect.stringMatching(/^last tick 9 failed \(\d+ s ago\): GitHub could not be read: HTTP 502 <html>…\n$/) });
    m.record(fresh({ stale_after: new Date(Date.now() - 1000).toISOString() }), report());
    expect(await get200(m)).toEqual({ status: 503, body: expect.stringMatching(/^stale: no tick for \d+ s \(last was tick 9\)\n$/) });
  });
});

test('jobs that ended: run-time histogram and a counter by profile and result, never by repository', async () => {
  const m = new FleetMetrics();
  const ended = (result: string, duration_s: number | null) => ({
    ended_at: '2026-01-01T00:00:00.000Z', profile: 'coder', job_id: 1, repo: 'acme/app', workflow: 'CI', job: 'b', vm: 'v', queue_wait_s: 1, boot_s: 2, duration_s, result, reason: '', give_up: null,
  });
  m.record(snapshot(), report({ jobsEnded: [ended('done', 100), ended('done', 200), ended('gave-up', null)] }));
  const p = parsePrometheusText(await m.text());
  expect(p.value('tart_fleet_job_duration_seconds_count', { profile: 'coder' })).toBe(2);
  expect(p.value('tart_fleet_job_duration_seconds_sum', { profile: 'coder' })).toBe(300);
  expect(p.value('tart_fleet_jobs_ended_total', { profile: 'coder', result: 'done' })).toBe(2);
  expect(p.value('tart_fleet_jobs_ended_total', { profile: 'coder', result: 'gave-up' })).toBe(1);
  expect(await m.text()).not.toContain('acme/app');
});
