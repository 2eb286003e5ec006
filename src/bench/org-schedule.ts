/**
 * The org-scale scenario of `npm run bench` as data: an org of N repositories, 5 % of them active
 * (pushed within the last half hour, where every push-triggered job lands), the rest quiet (last
 * pushed 1–30 days ago, where every job triggered without a push lands), and a job schedule over the
 * bench window. Pure and deterministic: the same options give the same scenario, byte for byte, so
 * tart-fleet and the baseline poller (each against its own fake GitHub) see the same org and jobs.
 *
 * Default rate: 15 jobs per 6 minutes (2.5 a minute), 60 % pushes, 40 % without a push
 * (`workflow_dispatch`, `schedule`, `issue_comment` in turn). The rate does not scale down with the
 * org: discovery percentiles need jobs, and the cost of watching an org barely depends on them.
 *
 * ## Gotchas
 * - Jobs are only queued while there is time left to find them: push jobs in the window's first
 *   `W - min(W/4, 120 s)`, non-push jobs in its first `W - min(W/2, 300 s)`. A job not found by the
 *   window's end is "not found"; its latency is at least that horizon, so figures above the horizon
 *   cannot be seen (they show as not found), which is what bounds discovery in short windows.
 * - Times are seconds after the window start (`atS`); pushed-at ages are seconds before it.
 * - Each kind of job asks for its own profile (`profileLabels`: `push` or `quiet`): GitHub gives a
 *   new runner the oldest queued job it fits, so with one profile a runner claimed for a push job
 *   would often serve a non-push job not yet discovered, and hide how long discovery took.
 */

export type JobKind = 'push' | 'non-push';

export interface ScheduledJob {
  /** Seconds after the window start. */
  atS: number;
  repo: string;
  kind: JobKind;
  /** The run's `event` (only `push` moves the repo's pushed_at). */
  event: string;
  /** Simulated duration of the job (the simulated runner divides it by the world's speed). */
  durationS: number;
}

export interface ScheduledRepo {
  name: string;
  active: boolean;
  /** Last pushed this many seconds before the window start. */
  pushedAgoS: number;
}

export interface OrgSchedule {
  windowS: number;
  repos: ScheduledRepo[];
  /** Sorted by `atS`. */
  jobs: ScheduledJob[];
  /** Latest `atS` at which each kind of job may be queued (see the header). */
  horizonS: Record<JobKind, number>;
}

export interface OrgScheduleOptions {
  repos: number;
  windowS: number;
  /** Default 1 (a fixed scenario). */
  seed?: number;
  /** Default 2.5 (15 per 6 minutes). */
  jobsPerMinute?: number;
  /** Share of jobs triggered without a push (default 0.4). */
  nonPushShare?: number;
  /** Share of repositories that are active (default 0.05). */
  activeShare?: number;
}

const NON_PUSH_EVENTS = ['workflow_dispatch', 'schedule', 'issue_comment'];
const DAY_S = 86_400;

/** mulberry32: a small seeded PRNG in [0, 1); enough for a reproducible scenario. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export function repoName(i: number): string {
  return `repo-${String(i + 1).padStart(4, '0')}`;
}

export function orgSchedule(opts: OrgScheduleOptions): OrgSchedule {
  const { repos: count, windowS } = opts;
  if (!Number.isInteger(count) || count < 1) throw new Error(`org schedule: repos must be a whole number above 0, got ${count}`);
  if (!(windowS >= 60)) throw new Error(`org schedule: windowS must be at least 60 s, got ${windowS}`);
  const rate = opts.jobsPerMinute ?? 2.5;
  const nonPushShare = opts.nonPushShare ?? 0.4;
  const random = seededRandom(opts.seed ?? 1);
  const activeEvery = Math.max(1, Math.round(1 / (opts.activeShare ?? 0.05)));

  const repos: ScheduledRepo[] = Array.from({ length: count }, (_, i) => {
    const active = i % activeEvery === 0;
    // Active: pushed within the last 30 minutes; quiet: 1 to 30 days ago.
    const pushedAgoS = active ? Math.round(60 + random() * 1740) : Math.round(DAY_S * (1 + random() * 29));
    return { name: repoName(i), active, pushedAgoS };
  });
  const active = repos.filter((r) => r.active);
  const quiet = repos.filter((r) => !r.active);

  const horizonS: Record<JobKind, number> = {
    push: windowS - Math.min(windowS / 4, 120),
    'non-push': windowS - Math.min(windowS / 2, 300),
  };
  const jobs: ScheduledJob[] = [];
  const place = (kind: JobKind, n: number, pool: ScheduledRepo[]) => {
    if (pool.length === 0) return;
    // Evenly spaced slots with a random offset inside each: steady load, no two jobs at one instant.
    const slot = horizonS[kind] / Math.max(1, n);
    for (let i = 0; i < n; i++) {
      const atS = Math.round((i * slot + random() * slot) * 10) / 10;
      const repo = pool[Math.floor(random() * pool.length)]!.name;
      const event = kind === 'push' ? 'push' : NON_PUSH_EVENTS[i % NON_PUSH_EVENTS.length]!;
      jobs.push({ atS, repo, kind, event, durationS: 30 + Math.round(random() * 150) });
    }
  };
  place('push', Math.round((rate * (1 - nonPushShare) * horizonS.push) / 60), active);
  place('non-push', Math.round((rate * nonPushShare * horizonS['non-push']) / 60), quiet);
  jobs.sort((a, b) => a.atS - b.atS || a.repo.localeCompare(b.repo));
  return { windowS, repos, jobs, horizonS };
}

/** The runs-on labels of a job: one tart-fleet profile per kind (see the header). */
export function profileLabels(job: Pick<ScheduledJob, 'kind'>): string[] {
  return ['self-hosted', job.kind === 'push' ? 'push' : 'quiet'];
}
