/**
 * The demand sweep: GitHub has no org-wide "queued jobs" endpoint (facts §8), so we list the repos,
 * then each repo's `queued`, `in_progress` and `waiting` runs, then the jobs of those runs, and keep
 * the jobs that are `queued` or `in_progress` (`waiting`/`pending` jobs are not demand).
 *
 * ## Lifecycle
 * One `DemandSweep` lives as long as the adapter and keeps per-repo state between calls:
 * - the repo list is re-read in full every `quietRepoSweepSeconds` (org: sorted by name so pages stay
 *   stable and mostly 304; App: `/installation/repositories`; allow-list: no listing at all), and for an
 *   org the first page sorted by `pushed` is read on every call so fresh pushes are seen quickly;
 * - **active** repos (a queued/in-progress run seen, or a push, within `activeRepoWindowSeconds`) are
 *   polled on every call (so is an allow-list of ≤ 25 repos); **quiet** repos at least every
 *   `quietRepoSweepSeconds` (each gets a fixed offset in [50%, 100%] of the interval, so they do not
 *   all come due on the same call);
 * - when the primary budget is low (< 10 % remaining), quiet repos are swept 4× less often, before
 *   GitHub stops us; `coldestRepoAgeSeconds` reports the real staleness either way.
 *
 * ## Gotchas
 * - Fail closed: any failed request rejects the whole sweep; never a partial list as if complete.
 *   The exceptions are deliberate observations: a repo answering 404 is gone (no jobs; the repo list is
 *   re-read next call) and a run answering 404 was deleted.
 * - A run that is `in_progress` can still hold queued jobs (later jobs, matrix legs), and so can a run
 *   that is `waiting`: GitHub shows the whole run `waiting` while one job awaits environment approval
 *   and others of it are queued (audit B1, ARC #2723). All three run statuses are polled; the third
 *   is one more conditional GET per polled repo, nearly always a free 304.
 * - Concurrency is bounded by the `get` function the adapter passes in (≤ 8 in flight). After the
 *   first failure (not a 404) it sends none of the requests still waiting for a slot: the sweep is
 *   lost anyway, and under a secondary rate limit they would only be refused and count against the
 *   next minute.
 */
import type { Job, JobStatus, SweepStats } from '../core/ports.js';
import type { Logger } from '../core/logger.js';
import { type Page, type RateSnapshot, getAllPages } from './github-etag-cache.js';

export interface SweepDeps {
  apiUrl: string;
  org: string;
  /** `org`: GET /orgs/{org}/repos; `installation`: GET /installation/repositories; `allow-list`: fixed. */
  repoSource: 'org' | 'installation' | 'allow-list';
  /** `owner/name` entries when repoSource is `allow-list`. */
  allowList: string[];
  now: () => number;
  logger: Logger;
  quietRepoSweepSeconds: number;
  activeRepoWindowSeconds: number;
  /** The latest rate-limit headers seen by the adapter. */
  rate: () => RateSnapshot | null;
}

interface RepoState {
  fullName: string;
  pushedAt: number | undefined;
  lastSweptAt: number | undefined;
  lastActiveAt: number | undefined;
  /** Fraction of the quiet interval this repo waits, in [0.5, 1]. */
  spread: number;
  jobs: Job[];
}

interface ApiRepo {
  full_name: string;
  pushed_at?: string | null;
  archived?: boolean;
}

interface ApiRun {
  id: number;
}

interface ApiJob {
  id: number;
  run_id: number;
  name: string;
  status: string;
  labels: string[];
  created_at?: string;
  started_at?: string;
  runner_name: string | null;
}

const LOW_BUDGET_FRACTION = 0.1;
const LOW_BUDGET_SLOWDOWN = 4;
const SMALL_ALLOW_LIST = 25;
/** Run statuses that can hold queued jobs (see the header). */
const RUN_STATUSES = ['queued', 'in_progress', 'waiting'] as const;

function spreadOf(name: string): number {
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619) >>> 0;
  return 0.5 + 0.5 * (h / 2 ** 32);
}

export function toJob(j: ApiJob, repo: string): Job {
  return {
    id: j.id,
    runId: j.run_id,
    repo,
    name: j.name,
    status: j.status as JobStatus,
    labels: [...(j.labels ?? [])],
    createdAt: Date.parse(j.created_at ?? j.started_at ?? '') || 0,
    runnerName: j.runner_name ?? null,
  };
}

const isStatus = (err: unknown, status: number) => (err as { status?: number } | null)?.status === status;

/** A conditional, concurrency-limited GET of an absolute URL, counted on the calling sweep's tracker. */
export type SweepGet = (url: string) => Promise<Page>;

export class DemandSweep {
  private readonly repos = new Map<string, RepoState>();
  private repoListAt: number | undefined;

  constructor(private readonly d: SweepDeps) {
    if (d.repoSource === 'allow-list') {
      for (const r of d.allowList) this.ensure(r, undefined);
    }
  }

  private ensure(fullName: string, pushedAt: number | undefined): RepoState {
    let r = this.repos.get(fullName);
    if (!r) {
      r = { fullName, pushedAt, lastSweptAt: undefined, lastActiveAt: undefined, spread: spreadOf(fullName), jobs: [] };
      this.repos.set(fullName, r);
    } else if (pushedAt !== undefined) {
      r.pushedAt = pushedAt;
    }
    return r;
  }

  private quietIntervalMs(): number {
    const rate = this.d.rate();
    const low = rate !== null && rate.limit > 0 && rate.remaining / rate.limit < LOW_BUDGET_FRACTION;
    return this.d.quietRepoSweepSeconds * 1000 * (low ? LOW_BUDGET_SLOWDOWN : 1);
  }

  private async refreshRepos(get: SweepGet, now: number): Promise<void> {
    const { apiUrl, org } = this.d;
    if (this.d.repoSource === 'allow-list') return;
    const fullDue = this.repoListAt === undefined || now - this.repoListAt >= this.quietIntervalMs();
    if (fullDue) {
      const url = this.d.repoSource === 'installation'
        ? `${apiUrl}/installation/repositories?per_page=100`
        : `${apiUrl}/orgs/${encodeURIComponent(org)}/repos?sort=full_name&per_page=100`;
      const list = await getAllPages<ApiRepo>(get, url, this.d.repoSource === 'installation' ? 'repositories' : undefined);
      const seen = new Set<string>();
      for (const r of list) {
        if (r.archived) continue;
        seen.add(r.full_name);
        this.ensure(r.full_name, r.pushed_at ? Date.parse(r.pushed_at) : undefined);
      }
      for (const name of [...this.repos.keys()]) if (!seen.has(name)) this.repos.delete(name);
      this.repoListAt = now;
      return;
    }
    if (this.d.repoSource === 'org') {
      // One request a call: the most recently pushed repos, to notice new pushes (and new repos) fast.
      const page = await get(`${apiUrl}/orgs/${encodeURIComponent(org)}/repos?sort=pushed&direction=desc&per_page=100`);
      if (!Array.isArray(page.data)) throw new Error('unexpected response shape from the repository list');
      for (const r of page.data as ApiRepo[]) {
        if (!r.archived) this.ensure(r.full_name, r.pushed_at ? Date.parse(r.pushed_at) : undefined);
      }
    }
  }

  private isActive(r: RepoState, now: number): boolean {
    // A short allow-list has no push signal (no repo listing) and is cheap: poll it all every call.
    if (this.d.repoSource === 'allow-list' && this.repos.size <= SMALL_ALLOW_LIST) return true;
    const window = this.d.activeRepoWindowSeconds * 1000;
    return (r.lastActiveAt !== undefined && now - r.lastActiveAt < window) || (r.pushedAt !== undefined && now - r.pushedAt < window);
  }

  private async sweepRepo(get: SweepGet, r: RepoState, now: number): Promise<void> {
    const base = `${this.d.apiUrl}/repos/${r.fullName.split('/').map(encodeURIComponent).join('/')}/actions`;
    let runs: ApiRun[];
    try {
      const lists = await Promise.all(
        RUN_STATUSES.map((status) => getAllPages<ApiRun>(get, `${base}/runs?status=${status}&per_page=100`, 'workflow_runs')),
      );
      runs = [...new Map(lists.flat().map((run) => [run.id, run])).values()];
    } catch (err) {
      if (!isStatus(err, 404)) throw err;
      this.d.logger.warn('github repository not found; dropping it until the repository list is read again', { repo: r.fullName });
      if (this.d.repoSource !== 'allow-list') {
        this.repos.delete(r.fullName);
        this.repoListAt = undefined;
      } else {
        r.jobs = [];
        r.lastSweptAt = now;
      }
      return;
    }
    const perRun = await Promise.all(
      runs.map(async (run) => {
        try {
          return await getAllPages<ApiJob>(get, `${base}/runs/${run.id}/jobs?filter=latest&per_page=100`, 'jobs');
        } catch (err) {
          if (isStatus(err, 404)) return []; // the run was deleted between the two requests
          throw err;
        }
      }),
    );
    r.jobs = perRun.flat().filter((j) => j.status === 'queued' || j.status === 'in_progress').map((j) => toJob(j, r.fullName));
    r.lastSweptAt = now;
    if (runs.length > 0) r.lastActiveAt = now;
  }

  /** One sweep through `get`. `cost` reads the call's request counters once the sweep is done. */
  async sweep(get: SweepGet, cost: () => { requests: number; notModified: number; rate: RateSnapshot | null }): Promise<{ jobs: Job[]; stats: SweepStats }> {
    const now = this.d.now();
    await this.refreshRepos(get, now);
    const quietMs = this.quietIntervalMs();
    const due = [...this.repos.values()].filter(
      (r) => r.lastSweptAt === undefined || this.isActive(r, now) || now - r.lastSweptAt >= quietMs * r.spread,
    );
    await Promise.all(due.map((r) => this.sweepRepo(get, r, now)));

    const jobs: Job[] = [];
    let coldest = 0;
    for (const r of this.repos.values()) {
      jobs.push(...r.jobs);
      coldest = Math.max(coldest, r.lastSweptAt === undefined ? 0 : (now - r.lastSweptAt) / 1000);
    }
    const c = cost();
    const rate = c.rate ?? this.d.rate();
    const stats: SweepStats = {
      requests: c.requests,
      notModified: c.notModified,
      rateLimitRemaining: rate?.remaining ?? null,
      rateLimitReset: rate ? rate.reset * 1000 : null,
      coldestRepoAgeSeconds: Math.round(coldest),
      repositories: this.repos.size,
    };
    this.d.logger.debug('github demand sweep', {
      repos: this.repos.size,
      polled: due.length,
      jobs: jobs.length,
      requests: stats.requests,
      notModified: stats.notModified,
      rateLimitRemaining: stats.rateLimitRemaining,
      coldestRepoAgeSeconds: stats.coldestRepoAgeSeconds,
    });
    return { jobs, stats };
  }
}
