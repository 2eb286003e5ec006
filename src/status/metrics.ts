/**
 * Prometheus metrics of the daemon, from the same tick as the status snapshot: written to
 * `host.metrics_file` after every tick (for node_exporter's textfile collector: no listening port,
 * so "outbound only" holds), and served on 127.0.0.1:`host.metrics_port` when that is set.
 *
 * Why prom-client: it is the kept Prometheus client for Node (registry, counters, gauges,
 * histograms, label escaping) and emits exactly the text exposition format the textfile collector
 * and Prometheus' own parser accept; writing that format by hand is where escaping bugs live.
 * A private Registry (not the global one) keeps tests and two daemons in one process apart; no
 * default process metrics: node_exporter already has the host's.
 *
 * ## Gotchas
 * - Unknown is NaN, never 0: RAM used while tart is unreadable, the rate limit before any answer.
 *   (Written `NaN`: prom-client's own `Nan` is fixed up in text().)
 * - Counters are per daemon process (they restart at 0 with it), as Prometheus expects.
 * - Queue wait is observed once per job, when it leaves the queue (admitted here, taken by another
 *   Mac, or cancelled), from the last `waiting_s` seen: up to one poll interval short. Only ticks
 *   that read GitHub count: a queue we could not read is unknown, not empty.
 * - Creations are counted when they end (the report carries those that ended since the last
 *   tick): `creations_total{outcome}` (`claimed_elsewhere` is a 409: another Mac has the job) and
 *   `boot_seconds` from admission to the runner started. `admissions_total` counts admissions.
 * - Deletions by reason are the planned ones; `*_deleted_total` count those carried out.
 * - The GitHub budget series come from the adapter even when GitHub could not be read: a back-off is
 *   exactly when the rest is unknown.
 */
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { TickReport } from '../daemon/report.js';
import type { StatusSnapshot } from './snapshot.js';
import { writeFileAtomic } from '../adapters/atomic-write.js';
import type { DecisionCause } from '../core/lifecycle.js';
import { TickHealth } from './health.js';

const P = 'tart_fleet_';
const MB = 1024 * 1024;

export class FleetMetrics {
  readonly registry = new Registry();
  private readonly queuedSeen = new Map<number, { waiting_s: number; profile: string }>();
  /** The adapter's back-off episodes counted so far (it counts since its start, as we do). */
  private backoffsSeen = 0;
  private readonly m;
  /** What GET /healthz answers (health.ts), from the same ticks. */
  readonly health = new TickHealth();

  constructor() {
    const registers = [this.registry];
    this.m = {
      info: new Gauge({ name: `${P}info`, help: 'Constant 1, labelled with the version and this Mac\'s runner_name', labelNames: ['version', 'runner_name'], registers }),
      buildInfo: new Gauge({ name: `${P}build_info`, help: 'Constant 1, labelled with the tart-fleet version that wrote these metrics', labelNames: ['version'], registers }),
      jobsQueued: new Gauge({ name: `${P}jobs_queued`, help: 'Queued jobs seen in the last tick, by the profile they match ("none": no profile)', labelNames: ['profile'], registers }),
      jobsRunning: new Gauge({ name: `${P}jobs_running`, help: 'Jobs running on this Mac (VMs whose runner is busy), by profile', labelNames: ['profile'], registers }),
      vms: new Gauge({ name: `${P}vms`, help: 'VMs of this Mac by tart state', labelNames: ['state'], registers }),
      creating: new Gauge({ name: `${P}creations_in_progress`, help: 'Jobs being claimed, cloned and booted right now', registers }),
      ramUsed: new Gauge({ name: `${P}ram_used_bytes`, help: 'RAM of running VMs (ours and foreign); NaN when tart could not be read', registers }),
      ramCeiling: new Gauge({ name: `${P}ram_ceiling_bytes`, help: 'RAM ceiling for VMs (total - reserved)', registers }),
      macosUsed: new Gauge({ name: `${P}macos_vms`, help: 'Running macOS VMs (count against max_vms); NaN when tart could not be read', registers }),
      macosMax: new Gauge({ name: `${P}macos_vms_max`, help: 'host.max_vms', registers }),
      admissions: new Counter({ name: `${P}admissions_total`, help: 'Jobs admitted (a JIT claim, clone and boot started)', registers }),
      creations: new Counter({ name: `${P}creations_total`, help: 'Creations that ended, by outcome (claimed_elsewhere: a 409 on the claim, another Mac has the job)', labelNames: ['outcome'], registers }),
      bootSeconds: new Histogram({
        name: `${P}boot_seconds`, help: 'From admission to the runner started in its VM (claim, clone, boot, runner start)', labelNames: ['profile'], registers,
        buckets: [5, 10, 20, 30, 45, 60, 90, 120, 180, 300],
      }),
      queueWait: new Histogram({
        name: `${P}queue_wait_seconds`, help: 'How long a matching job was seen queued before it left the queue', labelNames: ['profile'], registers,
        buckets: [5, 15, 30, 60, 120, 300, 600, 1800, 3600],
      }),
      // Labelled by profile (a handful, set in pipeline.yml) and result (a fixed dozen), never by
      // repository: an org has hundreds or thousands, each a series per bucket, in every scrape,
      // forever (Prometheus' advice: no unbounded label values). Per-repository figures are in
      // `ls --history --json` instead.
      jobDuration: new Histogram({
        name: `${P}job_duration_seconds`, help: 'How long a job ran on this Mac: from its runner started to its VM deleted', labelNames: ['profile'], registers,
        buckets: [30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400],
      }),
      jobsEnded: new Counter({ name: `${P}jobs_ended_total`, help: 'Jobs that ended on this Mac, by profile and result (done, timeout, boot-failed, runner-unused, gave-up, ...; see ls --history)', labelNames: ['profile', 'result'], registers }),
      ghRequests: new Counter({ name: `${P}github_requests_total`, help: 'GitHub REST requests of the demand sweeps (304s included)', registers }),
      ghNotModified: new Counter({ name: `${P}github_not_modified_total`, help: 'GitHub requests answered 304 Not Modified', registers }),
      ghRemaining: new Gauge({ name: `${P}github_rate_limit_remaining`, help: 'GitHub rate limit left, as last answered; NaN when unknown', registers }),
      ghLastMinute: new Gauge({ name: `${P}github_requests_last_minute`, help: 'GitHub requests sent in the last 60 s, 304s and retries included (github.max_requests_per_minute bounds it)', registers }),
      ghBudget: new Gauge({ name: `${P}github_requests_per_minute_budget`, help: 'github.max_requests_per_minute', registers }),
      ghBackoff: new Gauge({ name: `${P}github_backoff_seconds`, help: 'Seconds left of a back-off GitHub imposed (secondary or primary rate limit); 0 when none', registers }),
      ghBackoffs: new Counter({ name: `${P}github_backoffs_total`, help: 'Back-offs GitHub imposed (secondary rate limit, exhausted primary limit)', registers }),
      feedUp: new Gauge({ name: `${P}github_event_feed_up`, help: '1 while the webhook delivery feed works, 0 while it fails; absent without a feed (docs/event-feed.md)', labelNames: ['source'], registers }),
      feedHints: new Gauge({ name: `${P}github_event_feed_hints`, help: 'Repositories the webhook delivery feed made urgent since the start', labelNames: ['source'], registers }),
      feedThrottled: new Gauge({ name: `${P}github_event_feed_throttled_deliveries`, help: 'Deliveries GitHub marked throttled, seen since the start', labelNames: ['source'], registers }),
      up: new Gauge({ name: `${P}source_up`, help: '1 when the last tick could read the source (github, tart), else 0', labelNames: ['source'], registers }),
      readFailures: new Counter({ name: `${P}observation_failures_total`, help: 'Ticks whose observation of a source failed', labelNames: ['source'], registers }),
      deletionsPlanned: new Counter({ name: `${P}deletions_planned_total`, help: 'VM and runner deletions planned, by what and the kind of reason', labelNames: ['what', 'reason'], registers }),
      vmsDeleted: new Counter({ name: `${P}vms_deleted_total`, help: 'VMs deleted', registers }),
      runnersDeleted: new Counter({ name: `${P}runners_deleted_total`, help: 'Runners deleted', registers }),
      giveUps: new Gauge({ name: `${P}give_ups`, help: 'Queued jobs this Mac has given up on', registers }),
      ticks: new Counter({ name: `${P}ticks_total`, help: 'Reconcile ticks, by result', labelNames: ['result'], registers }),
      tickDuration: new Histogram({ name: `${P}tick_duration_seconds`, help: 'Duration of a reconcile tick', registers, buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] }),
      lastTickOk: new Gauge({ name: `${P}last_tick_ok`, help: '1 when the last tick completed without failures', registers }),
      draining: new Gauge({ name: `${P}draining`, help: '1 while this Mac is drained (tart-fleet drain: no new job is claimed), else 0', registers }),
      bootProof: new Gauge({ name: `${P}boot_proof_passed`, help: "Per image: 1 when the daemon's boot proof passed, 0 when it failed (its jobs are not claimed), NaN while under way", labelNames: ['image'], registers }),
      lastOkAt: new Gauge({ name: `${P}last_successful_tick_timestamp_seconds`, help: 'Unix time of the last tick without failures; NaN before the first', registers }),
    };
  }

  /** Updates every series from one tick: its report and the snapshot built from it. */
  record(s: StatusSnapshot, report: TickReport): void {
    const m = this.m;
    m.info.reset();
    m.info.set({ version: s.version, runner_name: s.runner_name }, 1);
    m.buildInfo.reset();
    m.buildInfo.set({ version: s.version }, 1);
    const githubRead = s.github !== null;
    const tartRead = s.ledger.used_mb !== null;

    if (githubRead) {
      m.jobsQueued.reset();
      const current = new Map<number, { waiting_s: number; profile: string }>();
      for (const q of s.queue ?? []) {
        const profile = q.profile ?? 'none';
        m.jobsQueued.inc({ profile });
        if (q.profile !== null) current.set(q.job_id, { waiting_s: q.waiting_s, profile });
      }
      for (const [id, seen] of this.queuedSeen) if (!current.has(id)) m.queueWait.observe({ profile: seen.profile }, seen.waiting_s);
      this.queuedSeen.clear();
      for (const [id, seen] of current) this.queuedSeen.set(id, seen);
      m.ghRequests.inc(s.github!.requests);
      m.ghNotModified.inc(s.github!.not_modified);
      m.ghRemaining.set(s.github!.rate_limit_remaining ?? Number.NaN);
    } else {
      // Unknown, not zero: drop the series rather than claim an empty queue.
      m.jobsQueued.reset();
      m.readFailures.inc({ source: 'github' });
    }
    m.up.set({ source: 'github' }, githubRead ? 1 : 0);
    const budget = s.github_budget;
    if (budget) {
      m.ghLastMinute.set(budget.last_minute);
      m.ghBudget.set(budget.per_minute);
      const left = budget.backoff_until === null ? 0 : (Date.parse(budget.backoff_until) - Date.parse(s.observed_at)) / 1000;
      m.ghBackoff.set(Math.max(0, Math.ceil(left)));
      if (budget.backoffs > this.backoffsSeen) m.ghBackoffs.inc(budget.backoffs - this.backoffsSeen);
      this.backoffsSeen = budget.backoffs;
    }

    const feed = s.github_feed;
    if (feed) {
      const source = feed.source;
      m.feedUp.set({ source }, feed.state === 'failing' ? 0 : 1);
      m.feedHints.set({ source }, feed.hints);
      m.feedThrottled.set({ source }, feed.throttled);
    }

    if (tartRead) {
      m.vms.reset();
      m.jobsRunning.reset();
      for (const vm of s.vms) {
        m.vms.inc({ state: vm.state });
        if (vm.runner_status === 'busy') m.jobsRunning.inc({ profile: vm.profile });
      }
    } else {
      m.vms.reset();
      m.jobsRunning.reset();
      m.readFailures.inc({ source: 'tart' });
    }
    m.up.set({ source: 'tart' }, tartRead ? 1 : 0);
    m.creating.set(s.creating.length);
    m.ramUsed.set(s.ledger.used_mb === null ? Number.NaN : s.ledger.used_mb * MB);
    m.ramCeiling.set(s.ledger.ceiling_mb * MB);
    m.macosUsed.set(s.ledger.vms ?? Number.NaN);
    m.macosMax.set(s.ledger.max_vms);

    m.admissions.inc(report.admitted);
    for (const c of report.creationsEnded) {
      m.creations.inc({ outcome: c.outcome.replace(/-/g, '_') });
      if (c.outcome === 'started') m.bootSeconds.observe({ profile: c.profile }, c.durationMs / 1000);
    }
    for (const a of report.plan.actions) {
      if (a.kind === 'delete-vm') m.deletionsPlanned.inc({ what: 'vm', reason: causeLabel(a.cause) });
      if (a.kind === 'delete-runner') m.deletionsPlanned.inc({ what: 'runner', reason: causeLabel(a.cause) });
    }
    for (const j of report.jobsEnded ?? []) {
      m.jobsEnded.inc({ profile: j.profile, result: j.result });
      if (j.duration_s !== null) m.jobDuration.observe({ profile: j.profile }, j.duration_s);
    }
    m.vmsDeleted.inc(report.deletedVms);
    m.runnersDeleted.inc(report.deletedRunners);
    m.giveUps.set(s.give_ups.length);

    m.bootProof.reset();
    for (const [image, p] of Object.entries(report.world?.bootProof ?? {})) m.bootProof.set({ image }, p.status === 'passed' ? 1 : p.status === 'failed' ? 0 : Number.NaN);
    m.ticks.inc({ result: report.ok ? 'ok' : 'failed' });
    m.tickDuration.observe(report.durationMs / 1000);
    m.lastTickOk.set(report.ok ? 1 : 0);
    m.draining.set(s.admission === 'draining' ? 1 : 0);
    this.health.update(s);
    m.lastOkAt.set(s.last_ok_tick_at === null ? Number.NaN : Date.parse(s.last_ok_tick_at) / 1000);
  }

  async text(): Promise<string> {
    // prom-client spells NaN "Nan" (lib/util.js); Prometheus' Go parser forgives that, the format
    // and OpenMetrics parsers do not. Every sample line ends in its value, so this is exact.
    return (await this.registry.metrics()).replace(/ Nan$/gm, ' NaN');
  }

  contentType(): string {
    return this.registry.contentType;
  }
}

/** A decision's cause code (core/lifecycle.ts) as a label value: bounded, and never read from the prose. */
export function causeLabel(cause: DecisionCause): string {
  return cause.replace(/-/g, '_');
}

export async function writeMetricsFile(file: string, metrics: FleetMetrics): Promise<void> {
  writeFileAtomic(file, await metrics.text());
}

/**
 * Serves GET /metrics and GET /healthz (health.ts) on 127.0.0.1:`port` only (never another address). Resolves once listening.
 * Answers only requests whose Host is 127.0.0.1:`port` or localhost:`port`: a web page in a browser
 * on this Mac can point a name it controls at 127.0.0.1 (DNS rebinding) and read the answer as its
 * own origin; its requests then carry that name as Host (audit turn4-security N8).
 */
export async function serveMetrics(port: number, metrics: FleetMetrics): Promise<Server> {
  // The port really bound (port 0 picks one), known once listening.
  let bound = port;
  const server = createServer((req, res) => {
    const host = (req.headers.host ?? '').toLowerCase();
    if (host !== `127.0.0.1:${bound}` && host !== `localhost:${bound}`) {
      res.writeHead(421, { 'content-type': 'text/plain' }).end(`only for Host 127.0.0.1:${bound} or localhost:${bound}\n`);
      return;
    }
    if (req.method === 'GET' && (req.url ?? '').split('?')[0] === '/healthz') {
      const h = metrics.health.check(Date.now());
      res.writeHead(h.ok ? 200 : 503, { 'content-type': 'text/plain' }).end(`${h.line}\n`);
      return;
    }
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('only GET /metrics and GET /healthz here\n');
      return;
    }
    metrics.text().then(
      (text) => res.writeHead(200, { 'content-type': metrics.contentType() }).end(text),
      (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${err.message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      bound = (server.address() as { port: number }).port;
      resolve();
    });
  });
  return server;
}
