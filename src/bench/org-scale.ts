/**
 * `npm run bench` section `org_scale`: tart-fleet against a naive baseline poller on the same
 * simulated org (N repositories, 5 % active) and the same job schedule (org-schedule.ts), side by
 * side in one run.
 *
 * - tart-fleet: the real daemon (`node bin/tart-fleet.js run`, `poll_seconds: 15`) in a SimWorld
 *   (fake tart, simulated Linux guests at speed 100), against a fake GitHub with a primary limit of
 *   5,000 requests an hour, in this process. `github.max_requests_per_minute: 300` is set (through
 *   its TART_FLEET_ variable) only when the config schema knows the key.
 * - baseline: naive-poller.ts against its own fake GitHub, same limit, in a worker thread
 *   (org-baseline-worker.ts).
 *
 * Timeline: set up → start the daemon with no github-sweep.json → wait until it has swept every
 * repository once (the cold start, a few minutes at 1,000 repositories within the budget: its
 * requests are reported apart) → window of `windowS` seconds in which both pollers run and the jobs are queued →
 * stop. Every figure but the cold start is measured over the window.
 *
 * Figures per poller: requests (all, 304s, counted = not 304 and not /rate_limit, refused = 403/429)
 * per hour extrapolated from the window; the request-per-minute peak, sliding (most in any 60 s)
 * and per window minute; discovery latency p50/p95/p99 for push and non-push jobs (tart-fleet: job
 * queued → the fake creates runner `tf-<profile>-<job id>`, i.e. the generate-jitconfig POST of the
 * claim; baseline: job queued → its sweep first sees the job queued). For the daemon: CPU ms per
 * tick (utime + stime of the daemon process alone, from /proc/<pid>/stat, over the window, divided
 * by the ticks its status snapshot counted) and RSS (VmRSS from /proc/<pid>/status, sampled each
 * second: ~1 s after spawn, at the window start, peak over the run, at the window end).
 * The baseline's `demand_per_hour` is what its complete sweeps cost an hour had the budget allowed
 * (requests per complete sweep × sweeps an hour): the counted ratio uses it, since a baseline cut off
 * by the primary limit sends few requests only because it has stopped working.
 *
 * ## Gotchas
 * - Linux only (/proc). On a loaded machine CPU figures are inflated and latencies longer.
 * - The fake tart CLI runs as child processes of the daemon: their CPU is not in the daemon's
 *   utime/stime (it would be in cutime once reaped, and is not reported).
 * - Discovery figures are bounded by the window: jobs are queued only until a horizon before its
 *   end (org-schedule.ts); a job not found by the end shows as not found (null percentile).
 * - GitHub gives a new runner the oldest queued job it fits, so a runner claimed for one job may take
 *   an older one of the same profile that tart-fleet has not claimed yet; that job's discovery is
 *   unknown and it is left out of the percentiles (`served_unclaimed` counts them). Push and non-push
 *   jobs ask for different profiles, so this only happens within a kind.
 * - The secondary limit is not enforced by either fake: the peaks say how far each would be over
 *   GitHub's ~900 points a minute.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { loadSchema } from '../config/schema.js';
import { FakeGitHub, type RequestEvent } from '../sim/github/server.js';
import { SimWorld } from '../sim/world.js';
import { readSnapshot } from '../status/snapshot.js';
import type { BaselineInput, BaselineResult } from './org-baseline-worker.js';
import { OrgDriver, addOrgRepos } from './org-driver.js';
import { type JobKind, orgSchedule, profileLabels } from './org-schedule.js';
import { type LatencySummary, type RequestSummary, latencySummary, ratio, summariseRequests } from './org-stats.js';

export interface OrgScaleOptions {
  repos: number;
  windowS: number;
  pollSeconds?: number;
  seed?: number;
  /** Jobs queued a minute over the window (default 2.5); 0 measures the daemon watching a quiet org. */
  jobsPerMinute?: number;
  /** Write the daemon's V8 CPU profile (`--cpu-prof`) into this directory when it stops. */
  cpuProfDir?: string;
  /** Give the daemon the event feed (an org webhook on the fake, docs/event-feed.md). */
  feed?: boolean;
}

export interface OrgScaleResult {
  repos: number;
  /** Whether the daemon had the event feed (an org webhook's delivery log). */
  feed: boolean;
  active_repos: number;
  window_s: number;
  poll_seconds: number;
  jobs: Record<'push' | 'non_push', number>;
  /** Latest queue time (s after the window start) of each kind: the bound of its discovery figures. */
  discovery_horizon_s: Record<'push' | 'non_push', number>;
  /** github.max_requests_per_minute handed to the daemon, or null when the schema has no such key. */
  daemon_budget_per_minute: number | null;
  tart_fleet: {
    requests: RequestSummary;
    cold_start: { seconds: number; total: number; counted: number };
    discovery: Record<'push' | 'non_push', LatencySummary>;
    jobs_claimed: number;
    /** Jobs a runner claimed for another job took first (GitHub's oldest-first assignment): left out of discovery. */
    served_unclaimed: number;
    jobs_completed: number;
    vms_cloned: number;
    ticks: number;
    cpu_ms_per_tick: number | null;
    /** CPU per tick in each whole 10 minutes of the window: does it settle (JIT warm-up) or grow? */
    cpu_ms_per_tick_every_10_min: Array<number | null>;
    /** `peak` over the whole run (cold start included), `peak_window` over the window only; `every_10_min` at each 10 minutes of the window (flat or growing). */
    rss_mb: { boot: number | null; start: number | null; peak: number | null; peak_window: number | null; end: number | null; every_10_min: Array<number | null>; file_at_end: number | null };
  };
  baseline: {
    requests: RequestSummary;
    complete_sweeps: number;
    failed_sweeps: number;
    requests_per_complete_sweep: number | null;
    demand_per_hour: number | null;
    discovery: Record<'push' | 'non_push', LatencySummary>;
    jobs_found: number;
  };
  /** baseline ÷ tart-fleet. */
  ratios: {
    /** The baseline's demand (it has no 304s: all its requests count) against tart-fleet's counted requests. */
    counted_per_hour: number | null;
    /** The baseline's demand against all of tart-fleet's requests, 304s included. */
    total_per_hour: number | null;
    /** What the baseline really sent in the window (cut off by the primary limit at large orgs). */
    counted_sent: number | null;
    total_sent: number | null;
    peak_per_minute: number | null;
  };
}

const ORG = 'bench-org';
const TOKEN = 'ghp_benchtartfleet0123456789abcdefghijk';
const SPEED = 100;
const BOOT_S = 20;
const PRIMARY_LIMIT = 5000;
const BUDGET_PER_MINUTE = 300;

/** One big Linux-guest Mac: the scheduler, not the RAM ceiling, is what is measured (as BENCH_MAC). */
const ORG_MAC = {
  ramGb: 1024,
  speed: SPEED,
  bootSeconds: BOOT_S,
  runnerName: 'bench-org-mac',
  simEnv: { TART_SIM_MAX_RUNNING: '1000' },
  // One profile per kind of job (org-schedule.ts `profileLabels`).
  config: {
    host: { max_vms: 4 },
    profiles: {
      push: { ram_mb: 2048, cpu: 2, timeout_minutes: 60, os: 'linux', image: 'workhorse-linux' },
      quiet: { ram_mb: 2048, cpu: 2, timeout_minutes: 60, os: 'linux', image: 'workhorse-linux' },
    },
  },
};

interface ProcSample {
  at: number;
  rssKb: number;
  /** RssFile: mapped files, mostly the node executable's own pages (clean, shared with every node process). */
  fileKb: number;
  cpuTicks: number;
}

/** The daemon's process and its tick count at one moment of the window. */
interface Mark {
  proc: ProcSample | null;
  tick: number;
}

export async function benchOrgScale(opts: OrgScaleOptions): Promise<OrgScaleResult> {
  const pollSeconds = opts.pollSeconds ?? 15;
  const schedule = orgSchedule({
    repos: opts.repos,
    windowS: opts.windowS,
    ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
    ...(opts.jobsPerMinute !== undefined ? { jobsPerMinute: opts.jobsPerMinute } : {}),
  });
  const fake = new FakeGitHub({ org: ORG, tokens: [TOKEN], rateLimit: { limit: PRIMARY_LIMIT } });
  const apiUrl = await fake.start();
  const tape: RequestEvent[] = [];
  fake.setRequestListener((e) => tape.push(e));
  addOrgRepos(fake, schedule, Date.now());
  let world: SimWorld | undefined;
  const baseline = startBaseline({ schedule, intervalMs: pollSeconds * 1000, speed: SPEED, bootMs: (BOOT_S * 1000) / SPEED, rateLimitPerHour: PRIMARY_LIMIT });
  const samples: ProcSample[] = [];
  let sampler: NodeJS.Timeout | undefined;
  try {
    world = await SimWorld.create({ ...ORG_MAC, pollSeconds, github: { server: fake, apiUrl, token: TOKEN } });
    const budget = schemaHasBudget() ? BUDGET_PER_MINUTE : null;
    const stateDir = join(world.dir, 'state');
    const spawnedAt = Date.now();
    const env: Record<string, string> = budget === null ? {} : { TART_FLEET_GITHUB_MAX_REQUESTS_PER_MINUTE: String(budget) };
    if (opts.feed) {
      // The event feed: an org webhook on the fake, readable with the token (admin:org_hook).
      fake.addToken(TOKEN, { kind: 'classic', scopes: ['admin:org', 'repo', 'admin:org_hook'] });
      env.TART_FLEET_GITHUB_HOOK_ID = String(fake.addOrgHook().id);
    }
    const daemon = world.startDaemon(['run'], env, opts.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${opts.cpuProfDir}`] : []);
    const pid = daemon.pid;
    if (pid === undefined) throw new Error('org_scale: the daemon did not start');
    sampler = setInterval(() => {
      const s = sampleProc(pid);
      if (s) samples.push(s);
    }, 1000);

    // Cold start: until the daemon has swept every repository once (its snapshot says none is left
    // unswept; a daemon without that figure: its first tick). A real daemon restarts warm from its
    // github-sweep.json; this one starts with none, the worst case, reported on its own line.
    const firstTickDeadline = Date.now() + 15 * 60_000;
    while (tickOf(stateDir) < 1 || unsweptOf(stateDir) > 0) {
      if (daemon.exitCode !== null || daemon.signalCode !== null) throw new Error(`org_scale: the daemon exited before its first tick:\n${tail(world.daemonLog)}`);
      if (Date.now() > firstTickDeadline) throw new Error(`org_scale: no full first round within 15 minutes:\n${tail(world.daemonLog)}`);
      await sleep(250);
    }
    const coldEnd = Date.now();
    const cold = summariseRequests(tape, spawnedAt, coldEnd);
    await baseline.ready;

    const windowStart = Date.now() + 1000;
    const windowEnd = windowStart + opts.windowS * 1000;
    baseline.go(windowStart, windowEnd);
    const driver = new OrgDriver(fake, schedule, profileLabels);
    driver.start(windowStart);
    await sleep(windowStart - Date.now());
    const atStart = { proc: sampleProc(pid), tick: tickOf(stateDir) };
    const marks = [atStart];
    for (let i = 1; i <= Math.floor(opts.windowS / 600); i++) {
      await sleep(windowStart + i * 600_000 - Date.now());
      marks.push({ proc: sampleProc(pid), tick: tickOf(stateDir) });
    }
    await sleep(windowEnd - Date.now());
    const atEnd = { proc: sampleProc(pid), tick: tickOf(stateDir) };
    driver.stop();
    clearInterval(sampler);
    sampler = undefined;

    // Claims: the first runner created for each job's name (`tf-<profile>-<job>` or `…-<n>`).
    const claims = new Map<number, number>();
    for (const r of fake.runners()) {
      const jobId = Number(/^tf-(?:push|quiet)-(\d+)(?:-\d+)?$/.exec(r.name)?.[1]);
      if (!Number.isFinite(jobId) || r.createdAt >= windowEnd) continue;
      claims.set(jobId, Math.min(claims.get(jobId) ?? Infinity, r.createdAt));
    }
    // GitHub hands a new runner the oldest queued job it fits, so a job can be served by a runner
    // claimed for a later one before it is claimed itself: its discovery is unknown, not slow.
    const servedUnclaimed = new Set(
      driver.played
        .filter((p) => !claims.has(p.jobId))
        .filter((p) => fake.jobHistory(p.jobId).some((e) => e.status === 'in_progress' && e.at < windowEnd && e.runnerName?.startsWith('tf-')))
        .map((p) => p.jobId),
    );
    const tfLatency = (kind: JobKind) =>
      latencySummary(
        driver.played
          .filter((p) => p.kind === kind && !servedUnclaimed.has(p.jobId))
          .map((p) => (claims.has(p.jobId) ? claims.get(p.jobId)! - p.queuedAt : undefined)),
      );
    const played = new Set(driver.played.map((p) => p.jobId));
    const ticks = atEnd.tick - atStart.tick;
    const cpuPerTick = (from: Mark, to: Mark) => {
      if (!from.proc || !to.proc || to.tick - from.tick <= 0) return null;
      return Math.round((((to.proc.cpuTicks - from.proc.cpuTicks) * 1000) / clockTicksPerSecond()) / (to.tick - from.tick));
    };
    const rss = (s: ProcSample | undefined | null) => (s ? Math.round(s.rssKb / 1024) : null);
    const peakRss = (list: ProcSample[]) => (list.length === 0 ? null : Math.round(Math.max(...list.map((s) => s.rssKb)) / 1024));
    const tfRequests = summariseRequests(tape, windowStart, windowEnd);
    const tartFleet: OrgScaleResult['tart_fleet'] = {
      requests: tfRequests,
      cold_start: { seconds: Math.round((coldEnd - spawnedAt) / 100) / 10, total: cold.total, counted: cold.counted },
      discovery: { push: tfLatency('push'), non_push: tfLatency('non-push') },
      jobs_claimed: [...claims.keys()].filter((id) => played.has(id)).length,
      served_unclaimed: servedUnclaimed.size,
      jobs_completed: driver.played.filter((p) => fake.jobHistory(p.jobId).some((e) => e.status === 'completed' && e.at < windowEnd)).length,
      vms_cloned: world.tartEvents().filter((e) => e.event === 'clone').length,
      ticks,
      cpu_ms_per_tick: cpuPerTick(atStart, atEnd),
      cpu_ms_per_tick_every_10_min: marks.slice(1).map((m, i) => cpuPerTick(marks[i]!, m)),
      rss_mb: {
        boot: rss(samples.find((s) => s.at >= spawnedAt + 1000)),
        start: rss(atStart.proc),
        peak: peakRss(samples),
        peak_window: peakRss(samples.filter((s) => s.at >= windowStart && s.at <= windowEnd)),
        end: rss(atEnd.proc),
        file_at_end: atEnd.proc ? Math.round(atEnd.proc.fileKb / 1024) : null,
        // Read at each 10-minute mark, with the CPU figures of the same marks.
        every_10_min: marks.slice(1).map((m) => rss(m.proc)),
      },
    };

    const base = await baseline.result;
    const okSweeps = base.sweeps.filter((s) => s.ok);
    const perSweep = okSweeps.length === 0 ? null : okSweeps.reduce((a, s) => a + s.requests, 0) / okSweeps.length;
    const sweepMs = okSweeps.length === 0 ? 0 : okSweeps.reduce((a, s) => a + (s.endedAt - s.startedAt), 0) / okSweeps.length;
    const demandPerHour = perSweep === null ? null : Math.round((perSweep * 3_600_000) / Math.max(pollSeconds * 1000, sweepMs));
    const baseLatency = (kind: JobKind) =>
      latencySummary(base.jobs.filter((j) => j.kind === kind).map((j) => (j.seenAt === undefined ? undefined : j.seenAt - j.queuedAt)));
    const baselineOut: OrgScaleResult['baseline'] = {
      requests: base.requests,
      complete_sweeps: okSweeps.length,
      failed_sweeps: base.sweeps.length - okSweeps.length,
      requests_per_complete_sweep: perSweep === null ? null : Math.round(perSweep),
      demand_per_hour: demandPerHour,
      discovery: { push: baseLatency('push'), non_push: baseLatency('non-push') },
      jobs_found: base.jobs.filter((j) => j.seenAt !== undefined).length,
    };
    return {
      repos: opts.repos,
      feed: opts.feed === true,
      active_repos: schedule.repos.filter((r) => r.active).length,
      window_s: opts.windowS,
      poll_seconds: pollSeconds,
      jobs: { push: schedule.jobs.filter((j) => j.kind === 'push').length, non_push: schedule.jobs.filter((j) => j.kind === 'non-push').length },
      discovery_horizon_s: { push: schedule.horizonS.push, non_push: schedule.horizonS['non-push'] },
      daemon_budget_per_minute: budget,
      tart_fleet: tartFleet,
      baseline: baselineOut,
      ratios: {
        counted_per_hour: ratio(demandPerHour, tfRequests.counted_per_hour),
        total_per_hour: ratio(demandPerHour, tfRequests.total_per_hour),
        counted_sent: ratio(base.requests.counted_per_hour, tfRequests.counted_per_hour),
        total_sent: ratio(base.requests.total_per_hour, tfRequests.total_per_hour),
        peak_per_minute: ratio(base.requests.peak_per_minute_sliding, tfRequests.peak_per_minute_sliding),
      },
    };
  } finally {
    if (sampler) clearInterval(sampler);
    await baseline.terminate();
    // The world does not own the fake GitHub (we passed it in): stop it after the daemon.
    await world?.destroy();
    fake.setRequestListener(undefined);
    await fake.stop();
  }
}

/** A readable block for stderr: one line per figure, tart-fleet and the baseline side by side. */
export function formatOrgScale(r: OrgScaleResult): string {
  const t = r.tart_fleet;
  const b = r.baseline;
  const lat = (l: LatencySummary) => `${l.found}/${l.jobs} found; p50 ${s(l.p50_s)} p95 ${s(l.p95_s)} p99 ${s(l.p99_s)}`;
  const s = (v: number | null) => (v === null ? 'n/f' : `${v}s`);
  const rows: Array<[string, string, string]> = [
    ['counted requests/h', `${t.requests.counted_per_hour}`, `${b.requests.counted_per_hour} sent; demand ${b.demand_per_hour ?? 'n/a'}`],
    ['all requests/h (304s incl.)', `${t.requests.total_per_hour} (${pct(t.requests.not_modified, t.requests.total)} 304)`, `${b.requests.total_per_hour}`],
    ['refused (403/429) in window', `${t.requests.refused}`, `${b.requests.refused}${b.requests.first_refusal_s === null ? '' : `, first after ${b.requests.first_refusal_s}s`}`],
    ['requests/min peak (sliding 60 s)', `${t.requests.peak_per_minute_sliding}`, `${b.requests.peak_per_minute_sliding}`],
    ['requests/min peak (window minute)', `${t.requests.peak_per_minute_calendar}`, `${b.requests.peak_per_minute_calendar}`],
    ['discovery, push', lat(t.discovery.push), lat(b.discovery.push)],
    ['discovery, non-push', lat(t.discovery.non_push), lat(b.discovery.non_push)],
    ['cold start', `${t.cold_start.counted} counted / ${t.cold_start.total} in ${t.cold_start.seconds}s`, '-'],
    ['CPU per tick', t.cpu_ms_per_tick === null ? 'n/a' : `${t.cpu_ms_per_tick} ms (${t.ticks} ticks)`, '-'],
    ['RSS boot/start/peak (window)/end', `${t.rss_mb.boot}/${t.rss_mb.start}/${t.rss_mb.peak} (${t.rss_mb.peak_window})/${t.rss_mb.end} MB (${t.rss_mb.file_at_end ?? '?'} MB of the end's are mapped files)`, '-'],
    ...(t.cpu_ms_per_tick_every_10_min.length > 0 ? [['CPU per tick, each 10 min of the window', `${t.cpu_ms_per_tick_every_10_min.join(', ')} ms`, '-'] as [string, string, string]] : []),
    ...(t.rss_mb.every_10_min.length > 0 ? [['RSS every 10 min of the window', `${t.rss_mb.every_10_min.join(', ')} MB`, '-'] as [string, string, string]] : []),
    ['jobs', `${t.jobs_claimed} claimed (+${t.served_unclaimed} served unclaimed), ${t.jobs_completed} completed, ${t.vms_cloned} VMs cloned`, `${b.jobs_found} found; sweeps ${b.complete_sweeps} ok, ${b.failed_sweeps} failed`],
  ];
  const w0 = Math.max(...rows.map((x) => x[0].length));
  const w1 = Math.max('tart-fleet'.length, ...rows.map((x) => x[1].length));
  const line = (a: string, c: string, d: string) => `  ${a.padEnd(w0)}  ${c.padEnd(w1)}  ${d}`;
  const ratios = r.ratios;
  return [
    `org_scale: ${r.repos} repositories (${r.active_repos} active), ${r.feed ? 'WITH the event feed, ' : ''}${r.window_s} s window, poll ${r.poll_seconds} s, ` +
      `${r.jobs.push} push + ${r.jobs.non_push} non-push jobs (queued until ${r.discovery_horizon_s.push} / ${r.discovery_horizon_s.non_push} s), ` +
      `daemon budget ${r.daemon_budget_per_minute ?? 'not in schema'}`,
    line('', 'tart-fleet', 'naive baseline'),
    ...rows.map(([a, c, d]) => line(a, c, d)),
    `  ratios (baseline / tart-fleet): by the baseline's demand: counted ${x(ratios.counted_per_hour)}, all ${x(ratios.total_per_hour)}; ` +
      `by requests sent: counted ${x(ratios.counted_sent)}, all ${x(ratios.total_sent)}; peak/min ${x(ratios.peak_per_minute)}`,
    '  (n/f: the job at that rank was not found within the window; demand: requests per complete sweep × sweeps an hour)',
    '',
  ].join('\n');
}

const x = (v: number | null) => (v === null ? 'n/a' : `${v}×`);
const pct = (a: number, b: number) => (b === 0 ? '0%' : `${Math.round((a / b) * 100)}%`);

/** Whether the config schema has `github.max_requests_per_minute` (the budget of issue #21). */
function schemaHasBudget(): boolean {
  const schema = loadSchema() as { properties?: { github?: { properties?: Record<string, unknown> } } };
  return schema.properties?.github?.properties?.max_requests_per_minute !== undefined;
}

function unsweptOf(stateDir: string): number {
  try {
    return readSnapshot(stateDir)?.github?.unswept_repositories ?? 0;
  } catch {
    return Number.POSITIVE_INFINITY; // mid-replacement: ask again
  }
}

function tickOf(stateDir: string): number {
  try {
    return readSnapshot(stateDir)?.tick ?? 0;
  } catch {
    return 0; // mid-replacement or not yet written
  }
}

function sampleProc(pid: number): ProcSample | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name's closing paren: state is field 3, utime 14, stime 15.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
    return { at: Date.now(), rssKb: kb('VmRSS'), fileKb: kb('RssFile'), cpuTicks: Number(rest[11]) + Number(rest[12]) };
  } catch {
    return null; // not Linux, or the daemon is gone
  }
}

let clkTck: number | undefined;
function clockTicksPerSecond(): number {
  if (clkTck === undefined) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-20).join('\n');
  } catch {
    return '(no daemon log)';
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, ms)));
}

/** The baseline worker: `ready` once its org is set up, `go` starts the window, `result` after it. */
function startBaseline(input: BaselineInput): { ready: Promise<void>; result: Promise<BaselineResult>; go(start: number, end: number): void; terminate(): Promise<void> } {
  const worker = new Worker(new URL('./org-baseline-worker.js', import.meta.url), { workerData: input });
  let onReady: () => void = () => undefined;
  let onResult: (r: BaselineResult) => void = () => undefined;
  let onError: (e: Error) => void = () => undefined;
  const ready = new Promise<void>((resolve, reject) => {
    onReady = resolve;
    onError = reject;
  });
  const result = new Promise<BaselineResult>((resolve, reject) => {
    onResult = resolve;
    const previous = onError;
    onError = (e) => {
      previous(e);
      reject(e);
    };
  });
  // Whoever is not awaiting yet must not see an unhandled rejection.
  ready.catch(() => undefined);
  result.catch(() => undefined);
  worker.on('message', (m: { type: string; result?: BaselineResult; error?: string }) => {
    if (m.type === 'ready') onReady();
    else if (m.type === 'result' && m.result) onResult(m.result);
    else if (m.type === 'error') onError(new Error(`baseline worker: ${m.error}`));
  });
  worker.on('error', (e) => onError(e));
  worker.on('exit', (code) => onError(new Error(`baseline worker exited (${code}) before its result`)));
  return {
    ready,
    result,
    go: (windowStart, windowEnd) => worker.postMessage({ type: 'go', windowStart, windowEnd }),
    terminate: async () => {
      await worker.terminate();
    },
  };
}
