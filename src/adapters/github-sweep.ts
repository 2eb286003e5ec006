/**
 * The demand sweep: GitHub has no org-wide "queued jobs" endpoint (facts §8), so we list the repos,
 * then each repo's newest workflow runs, then the jobs of the runs that are not completed, and keep
 * the jobs that are `queued` or `in_progress` (`waiting`/`pending` jobs are not demand).
 *
 * ## What one repository costs
 * One conditional `GET …/actions/runs?per_page=20` (newest first: queued, in-progress and waiting runs
 * are at the top). A 304 ends it: nothing on the page changed, so neither did any run's jobs (a run's
 * `updated_at` moves when its jobs do). On a 200, the jobs are fetched only for runs that are new or
 * whose `status`/`updated_at` changed; the others keep what we had. Rarely more: a page that is all
 * unfinished runs is followed to the next one; a run we track that fell off the page is asked for by
 * id; and in a repo with runs below the first page, a "deep check" (`?status=queued` and
 * `?status=in_progress`) finds an old run re-run in place (the list is sorted by `created_at`, which a
 * re-run keeps: it stays far below the first page). It is due after an event-feed hint; without a
 * working feed at most every `quietRepoSweepSeconds` (within a round); with one, hourly.
 *
 * ## Which repositories a call sweeps
 * Each call gets an allowance from the request budget (github-budget.ts: `github.max_requests_per_
 * minute`, 304s included, shared by the whole adapter), then, in this order:
 * 1. the org's most recently pushed repos (one page sorted by `pushed`), the cheap change signal;
 * 2. **urgent** repos: hinted by the event feed since their last sweep (github-hook-feed.ts: at once),
 *    pushed since their last sweep (`pushed_at` has whole seconds: compared by the second, inclusive),
 *    or holding an unfinished run (its later jobs and matrix legs queue up while it runs), swept at
 *    most once per `minRepoIntervalMs` (so the extra tick right after a deletion does not re-read the
 *    same lists);
 * 3. **the rest**, most stale first (recently active repos count 4× as stale), as many as the
 *    allowance leaves: without a working event feed as often as that allows (a small org has every
 *    repository read every tick); with one, at least `quietRepoSweepSeconds` apart, since the feed
 *    names the repositories with new jobs. At 1,000 repositories and 300 requests a minute a full round
 *    takes ~200 s: that is the real staleness, reported as `coldestRepoAgeSeconds`, and REST's limit at
 *    that budget without a feed.
 * The repo list itself (membership, archived) is re-read in full once an hour (`REPO_LIST_MS`), at the
 * start when nothing is persisted, and after a repository answered 404.
 *
 * ## Warm starts
 * `exportState`/`importState` carry the per-repo state (github-sweep-state.ts persists it with the
 * ETag cache), so a restart costs 304s, not a full re-read — with a PAT. ETags are token-specific
 * (eclipse-csi/otterdog#201, audit N7): with GitHub App auth each new installation token (hourly, and
 * at every start) turns the next read of every list into a counted 200 (measured in
 * test/adapters/github-auth.test.ts).
 *
 * ## Gotchas
 * - Fail closed: any failed request rejects the whole sweep; never a partial list as if complete.
 *   The exceptions are deliberate observations: a repo answering 404 is gone (no jobs; the repo list is
 *   re-read next call) and a run answering 404 was deleted.
 * - Until every repository has been swept once (a cold start with nothing persisted), the absence of
 *   a job proves nothing: `unsweptRepositories` says so and the planner reads absent jobs as unknown.
 * - Concurrency is bounded by the `get` function the adapter passes in (≤ 8 in flight). After the
 *   first failure (not a 404) it sends none of the requests still waiting for a slot.
 */
import type { Job, JobStatus, SweepStats } from '../core/ports.js';
import type { Logger } from '../core/logger.js';
import type { SweepAllowance } from './github-budget.js';
import { type ConditionalGet, type Page, type RateSnapshot, type Summarise, getAllPages, listOf, parseLink } from './github-etag-cache.js';

export interface SweepDeps {
  apiUrl: string;
  org: string;
  /** `org`: GET /orgs/{org}/repos; `installation`: GET /installation/repositories; `allow-list`: fixed. */
  repoSource: 'org' | 'installation' | 'allow-list';
  /** `owner/name` entries when repoSource is `allow-list`. */
  allowList: string[];
  now: () => number;
  logger: Logger;
  /** A quiet repo is swept at most this often (and as often as the budget allows). */
  quietRepoSweepSeconds: number;
  /** A repo with a run or push within this window counts 4× as stale. */
  activeRepoWindowSeconds: number;
  /** An urgent repo is swept at most this often (≈ the daemon's poll interval). */
  minRepoIntervalMs: number;
  /** The latest rate-limit headers seen by the adapter. */
  rate: () => RateSnapshot | null;
}

/** A run that is not completed, as the runs page showed it. */
export interface RunState {
  id: number;
  status: string;
  updatedAt: string;
}

export interface RepoState {
  fullName: string;
  /** GitHub's repository id (webhook deliveries name repositories by it); unknown for an allow-list. */
  id?: number;
  /** When the event feed last hinted at a new job here (github-hook-feed.ts); cleared by a sweep. */
  hintedAt?: number;
  pushedAt: number | undefined;
  lastSweptAt: number | undefined;
  lastActiveAt: number | undefined;
  lastDeepCheckAt: number;
  /** The first runs page had a next page when last read: an old run re-run in place could hide there. */
  hasOlderRuns: boolean;
  /** Unfinished runs and their queued/in-progress jobs, by run id. */
  runs: Map<number, TrackedRun>;
  /** From the repository list (`private: false` or `visibility: public`); undefined when not read. */
  publicRepo?: boolean;
}

export interface TrackedRun {
  run: RunState;
  jobs: Job[];
  /** When its jobs were last read. */
  checkedAt: number;
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
  /** Documented on the workflow-jobs endpoints (docs.github.com/en/rest/actions/workflow-jobs). */
  workflow_name?: string | null;
}

const LOW_BUDGET_FRACTION = 0.1;
const LOW_BUDGET_SLOWDOWN = 4;
const ACTIVE_WEIGHT = 4;
const SMALL_ALLOW_LIST = 25;
export const RUNS_PER_PAGE = 20;
const PUSHED_PER_PAGE = 30;
const MAX_RUN_PAGES = 10;
const MAX_PUSHED_PAGES = 5;
const REPO_LIST_MS = 3_600_000;
const DEEP_CHECK_MS = 3_600_000;
/** `updated_at` has whole seconds: two job changes in one second can leave a run's page unchanged. */
const RUN_RECHECK_MS = 60_000;
const DONE = new Set(['completed']);

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
    ...(j.workflow_name ? { workflow: j.workflow_name } : {}),
  };
}

/** The summariser of a run's jobs pages; the adapter's re-check of one job uses the same one. */
export function jobsOf(repo: string): Summarise<Job[]> {
  return listOf((j) => toJob(j as ApiJob, repo), 'jobs');
}

export function jobsUrl(apiUrl: string, repo: string, runId: number): string {
  return `${repoBase(apiUrl, repo)}/runs/${runId}/jobs?filter=latest&per_page=100`;
}

function repoBase(apiUrl: string, repo: string): string {
  return `${apiUrl}/repos/${repo.split('/').map(encodeURIComponent).join('/')}/actions`;
}

interface RepoEntry {
  name: string;
  id: number | undefined;
  pushedAt: number | undefined;
  archived: boolean;
  /** Public (its jobs belong to the untrusted tier, core/public-jobs.ts); undefined when the answer says neither. */
  isPublic?: boolean;
}

const repoEntry = (r: unknown): RepoEntry => {
  const o = r as { id?: unknown; full_name?: unknown; pushed_at?: string | null; archived?: boolean; private?: unknown; visibility?: unknown };
  if (typeof o?.full_name !== 'string') throw new Error('unexpected repository without full_name');
  const id = typeof o.id === 'number' ? o.id : undefined;
  // GitHub's repository object has `private` (boolean) and `visibility` (public, private, internal).
  const isPublic = o.visibility === 'public' || o.private === false ? true : o.private === true || typeof o.visibility === 'string' ? false : undefined;
  return { name: o.full_name, id, pushedAt: o.pushed_at ? Date.parse(o.pushed_at) : undefined, archived: o.archived === true, ...(isPublic !== undefined ? { isPublic } : {}) };
};

interface RunsPage {
  /** Unfinished runs on the page. */
  open: RunState[];
  /** Every run on the page is unfinished: there may be more on the next one. */
  allOpen: boolean;
}

const runState = (r: unknown): RunState | undefined => {
  const o = r as { id?: unknown; status?: string | null; updated_at?: string };
  if (typeof o?.id !== 'number') throw new Error('unexpected workflow run without id');
  const status = o.status ?? 'unknown';
  return DONE.has(status) ? undefined : { id: o.id, status, updatedAt: o.updated_at ?? '' };
};

const runsPage: Summarise<RunsPage> = (data, url) => {
  const list = (data as { workflow_runs?: unknown } | null)?.workflow_runs;
  if (!Array.isArray(list)) throw new Error(`unexpected response shape from ${url} (no workflow_runs array)`);
  const open = list.map(runState).filter((r): r is RunState => r !== undefined);
  return { open, allOpen: list.length > 0 && open.length === list.length };
};

const oneRun: Summarise<RunState | null> = (data) => runState(data) ?? null;

/** A stable fraction in [0, 1) from a name (FNV-1a). */
function hashFraction(name: string): number {
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619) >>> 0;
  return h / 2 ** 32;
}

const isStatus = (err: unknown, status: number) => (err as { status?: number } | null)?.status === status;

export interface SweepResult {
  jobs: Job[];
  stats: SweepStats;
}

export class DemandSweep {
  private readonly repos = new Map<string, RepoState>();
  private repoListAt: number | undefined;
  /** The newest `pushed_at` seen on the "recently pushed" page. */
  private pushedWatermark: number | undefined;
  private lastSweepAt: number | undefined;
  private firstSweepAt: number | undefined;
  /** Set by the adapter while the event feed works (github-hook-feed.ts): see `pick` and `deepCheckDue`. */
  feedHealthy = false;

  constructor(private readonly d: SweepDeps) {
    if (d.repoSource === 'allow-list') {
      for (const r of d.allowList) this.ensure(r, undefined);
    }
  }

  /** The per-repo state, for persisting (github-sweep-state.ts). */
  exportState(): { repoListAt: number | undefined; pushedWatermark: number | undefined; repos: RepoState[] } {
    return { repoListAt: this.repoListAt, pushedWatermark: this.pushedWatermark, repos: [...this.repos.values()] };
  }

  importState(s: { repoListAt: number | undefined; pushedWatermark: number | undefined; repos: RepoState[] }): void {
    if (this.d.repoSource === 'allow-list') {
      for (const r of s.repos) if (this.repos.has(r.fullName)) this.repos.set(r.fullName, r);
      return;
    }
    this.repoListAt = s.repoListAt;
    this.pushedWatermark = s.pushedWatermark;
    for (const r of s.repos) this.repos.set(r.fullName, r);
  }

  private ensure(fullName: string, pushedAt: number | undefined, id?: number, isPublic?: boolean): RepoState {
    const r = this.ensureState(fullName, pushedAt, id);
    if (isPublic !== undefined) r.publicRepo = isPublic;
    return r;
  }

  private ensureState(fullName: string, pushedAt: number | undefined, id?: number): RepoState {
    let r = this.repos.get(fullName);
    if (r && id !== undefined) r.id = id;
    if (!r) {
      // The first deep check comes due somewhere within the hour, not for every repo at once.
      const lastDeepCheckAt = this.d.now() - DEEP_CHECK_MS * hashFraction(fullName);
      r = { fullName, ...(id !== undefined ? { id } : {}), pushedAt, lastSweptAt: undefined, lastActiveAt: undefined, lastDeepCheckAt, hasOlderRuns: true, runs: new Map() };
      this.repos.set(fullName, r);
    } else if (pushedAt !== undefined) {
      r.pushedAt = pushedAt;
    }
    return r;
  }

  /** The repository with this GitHub id, if the sweep reads it. */
  repoById(id: number): string | undefined {
    for (const r of this.repos.values()) if (r.id === id) return r.fullName;
    return undefined;
  }

  /**
   * The event feed saw a new job in `fullName`: sweep it first, at once (and look below its first runs
   * page, where a re-run of an old run hides). A hint only ever concerns a repository swept anyway;
   * false when the sweep does not read it. The job itself is believed only once the sweep reads it.
   */
  hint(fullName: string, at: number): boolean {
    const r = this.repos.get(fullName) ?? [...this.repos.values()].find((x) => x.fullName.toLowerCase() === fullName.toLowerCase());
    if (!r) return false;
    r.hintedAt = Math.max(r.hintedAt ?? 0, at);
    return true;
  }

  private lowPrimaryBudget(): boolean {
    const rate = this.d.rate();
    return rate !== null && rate.limit > 0 && rate.remaining / rate.limit < LOW_BUDGET_FRACTION;
  }

  private async readRepoList(get: ConditionalGet, now: number): Promise<void> {
    const { apiUrl, org } = this.d;
    const installation = this.d.repoSource === 'installation';
    const url = installation
      ? `${apiUrl}/installation/repositories?per_page=100`
      : `${apiUrl}/orgs/${encodeURIComponent(org)}/repos?sort=full_name&per_page=100`;
    const list = await getAllPages(get, url, listOf(repoEntry, installation ? 'repositories' : undefined));
    const seen = new Set<string>();
    for (const r of list) {
      if (r.archived) continue;
      seen.add(r.name);
      this.ensure(r.name, r.pushedAt, r.id, r.isPublic);
    }
    for (const name of [...this.repos.keys()]) if (!seen.has(name)) this.repos.delete(name);
    this.repoListAt = now;
  }

  /** The most recently pushed repos (org only): new pushes and new repos, for one request a call. */
  private async readPushed(get: ConditionalGet): Promise<void> {
    const before = this.pushedWatermark;
    let url: string | undefined = `${this.d.apiUrl}/orgs/${encodeURIComponent(this.d.org)}/repos?sort=pushed&direction=desc&per_page=${PUSHED_PER_PAGE}`;
    for (let n = 0; url !== undefined && n < MAX_PUSHED_PAGES; n++) {
      const page: Page<RepoEntry[]> = await get(url, listOf(repoEntry));
      if (page.notModified) return;
      let allNewer: boolean = page.summary.length > 0;
      for (const r of page.summary) {
        if (r.pushedAt !== undefined) this.pushedWatermark = Math.max(this.pushedWatermark ?? 0, r.pushedAt);
        if (before !== undefined && (r.pushedAt === undefined || r.pushedAt <= before)) allNewer = false;
        if (!r.archived) this.ensure(r.name, r.pushedAt, r.id, r.isPublic);
      }
      // Every repo on the page was pushed since we last looked: more may be on the next page.
      url = before !== undefined && allNewer ? parseLink(page.link).next : undefined;
    }
  }

  private async refreshRepos(get: ConditionalGet, now: number): Promise<void> {
    if (this.d.repoSource === 'allow-list') return;
    if (this.repoListAt === undefined || now - this.repoListAt >= REPO_LIST_MS) await this.readRepoList(get, now);
    if (this.d.repoSource === 'org') await this.readPushed(get);
  }

  private recentlyActive(r: RepoState, now: number): boolean {
    const window = this.d.activeRepoWindowSeconds * 1000;
    return (r.lastActiveAt !== undefined && now - r.lastActiveAt < window) || (r.pushedAt !== undefined && now - r.pushedAt < window);
  }

  private urgent(r: RepoState, now: number): boolean {
    // Never swept (a cold start): urgent if pushed lately, so a push is not kept waiting for the
    // first round; the rest wait their turn in the staleness order.
    const since = r.lastSweptAt ?? (this.firstSweepAt ?? now) - this.d.activeRepoWindowSeconds * 1000;
    // `pushed_at` has whole seconds (…:15Z for a push at 15.7 s): compared at second granularity and
    // inclusively, a push in the same second as the last sweep still counts (one extra 304 at most).
    const pushedSince = r.pushedAt !== undefined && r.pushedAt >= Math.floor(since / 1000) * 1000;
    // A hint from the event feed newer than the last sweep: now, whatever the interval.
    if (r.hintedAt !== undefined) return true;
    if (r.lastSweptAt === undefined) return pushedSince;
    if (now - r.lastSweptAt < this.d.minRepoIntervalMs) return false;
    const smallAllowList = this.d.repoSource === 'allow-list' && this.repos.size <= SMALL_ALLOW_LIST;
    return smallAllowList || pushedSince || r.runs.size > 0;
  }

  /**
   * Whether to look below the first runs page for an old run re-run in place: after a hint (the feed
   * saw a job queued there); while no event feed works, at most every `quietRepoSweepSeconds` (so on
   * every sweep of a large org's round, and a re-run is found within the round); with one, hourly.
   */
  private deepCheckDue(r: RepoState, now: number, hinted: boolean): boolean {
    // Never on a repository's first sweep beyond the hourly spread (a cold start would cost double).
    const every = this.feedHealthy || r.lastSweptAt === undefined ? DEEP_CHECK_MS : this.d.quietRepoSweepSeconds * 1000;
    return hinted || now - r.lastDeepCheckAt >= every;
  }

  /** What sweeping `r` now will probably cost: its runs page, a due deep check, due job re-reads. */
  private expectedCost(r: RepoState, now: number): number {
    let n = 1;
    // A repository never swept: whether it has older runs is not known yet (mostly not).
    if (r.lastSweptAt !== undefined && r.hasOlderRuns && this.deepCheckDue(r, now, r.hintedAt !== undefined)) n += 2;
    for (const t of r.runs.values()) if (now - t.checkedAt >= RUN_RECHECK_MS) n++;
    return n;
  }

  /**
   * The repos to sweep this call: urgent ones (within `hard`, what is left of the minute at all),
   * then the most stale while their expected cost fits `allowance`.
   */
  private pick(now: number, allowance: number, hard: number): RepoState[] {
    const urgent: RepoState[] = [];
    const rest: Array<{ r: RepoState; score: number }> = [];
    const low = this.lowPrimaryBudget();
    // Without a working event feed, a quiet repo is read as often as the budget allows (a small org:
    // every tick); with one, at most every `quietRepoSweepSeconds` (the feed names the busy ones).
    // Low on the primary budget (counted requests): quiet repos 4× less often, before GitHub stops us.
    const floorMs = this.feedHealthy || low ? this.d.quietRepoSweepSeconds * 1000 : this.d.minRepoIntervalMs;
    const quietMs = floorMs * (low ? LOW_BUDGET_SLOWDOWN : 1);
    for (const r of this.repos.values()) {
      if (this.urgent(r, now)) urgent.push(r);
      else if (r.lastSweptAt === undefined) rest.push({ r, score: Number.POSITIVE_INFINITY });
      else if (now - r.lastSweptAt >= quietMs) rest.push({ r, score: (now - r.lastSweptAt) * (this.recentlyActive(r, now) ? ACTIVE_WEIGHT : 1) });
    }
    const picked: RepoState[] = [];
    let cost = 0;
    for (const r of urgent) {
      const c = this.expectedCost(r, now);
      if (cost + c > hard) return picked;
      picked.push(r);
      cost += c;
    }
    const room = low ? Math.floor(allowance / LOW_BUDGET_SLOWDOWN) : allowance;
    rest.sort((a, b) => b.score - a.score || (a.r.fullName < b.r.fullName ? -1 : 1));
    for (const { r } of rest) {
      const c = this.expectedCost(r, now);
      if (cost + c > room) break;
      picked.push(r);
      cost += c;
    }
    return picked;
  }

  private async sweepRepo(get: ConditionalGet, r: RepoState, now: number): Promise<void> {
    const base = repoBase(this.d.apiUrl, r.fullName);
    // This sweep answers every hint given before it started; a later one makes the repo urgent again.
    const hinted = r.hintedAt !== undefined && r.hintedAt <= now;
    if (hinted) r.hintedAt = undefined;
    let open: RunState[] | 'unchanged';
    try {
      open = await this.openRuns(get, r, base, now, hinted);
    } catch (err) {
      if (!isStatus(err, 404)) throw err;
      this.d.logger.warn('github repository not found; dropping it until the repository list is read again', { repo: r.fullName });
      if (this.d.repoSource !== 'allow-list') {
        this.repos.delete(r.fullName);
        this.repoListAt = undefined;
      } else {
        r.runs = new Map();
        r.lastSweptAt = now;
      }
      return;
    }
    const recheckDue = (t: TrackedRun) => now - t.checkedAt >= RUN_RECHECK_MS;
    if (open === 'unchanged' && [...r.runs.values()].some(recheckDue)) open = [...r.runs.values()].map((t) => t.run);
    if (open !== 'unchanged') {
      const runs = new Map<number, TrackedRun>();
      await Promise.all(
        open.map(async (run) => {
          const had = r.runs.get(run.id);
          if (had && had.run.status === run.status && had.run.updatedAt === run.updatedAt && !recheckDue(had)) {
            runs.set(run.id, had);
            return;
          }
          try {
            const all = await getAllPages(get, jobsUrl(this.d.apiUrl, r.fullName, run.id), jobsOf(r.fullName));
            runs.set(run.id, { run, jobs: all.filter((j) => j.status === 'queued' || j.status === 'in_progress'), checkedAt: now });
          } catch (err) {
            if (!isStatus(err, 404)) throw err; // 404: the run was deleted between the two requests
          }
        }),
      );
      r.runs = runs;
    }
    r.lastSweptAt = now;
    if (r.runs.size > 0) r.lastActiveAt = now;
  }

  /**
   * The repo's unfinished runs, or `unchanged` when the first page answered 304 and nothing else
   * needs a look. See the header for the rare extra requests.
   */
  private async openRuns(get: ConditionalGet, r: RepoState, base: string, now: number, hinted: boolean): Promise<RunState[] | 'unchanged'> {
    const first = await get(`${base}/runs?per_page=${RUNS_PER_PAGE}`, runsPage);
    r.hasOlderRuns = parseLink(first.link).next !== undefined;
    // Nothing below the first page: nothing can hide there, no deep check needed.
    const deepDue = r.hasOlderRuns && this.deepCheckDue(r, now, hinted);
    const onPage = new Set(first.summary.open.map((run) => run.id));
    const offPage = [...r.runs.keys()].filter((id) => !onPage.has(id));
    if (first.notModified && !deepDue && r.lastSweptAt !== undefined && offPage.length === 0) return 'unchanged';

    const open = new Map(first.summary.open.map((run) => [run.id, run]));
    let page = first;
    for (let n = 1; page.summary.allOpen && n < MAX_RUN_PAGES; n++) {
      const next = parseLink(page.link).next;
      if (!next) break;
      page = await get(next, runsPage);
      for (const run of page.summary.open) open.set(run.id, run);
    }
    // Runs we track that newer runs pushed off the first page: asked for one by one (rare).
    for (const id of offPage) {
      if (open.has(id)) continue;
      try {
        const run = (await get(`${base}/runs/${id}`, oneRun)).summary;
        if (run) open.set(run.id, run);
      } catch (err) {
        if (!isStatus(err, 404)) throw err;
      }
    }
    if (deepDue) {
      // A re-run keeps its run's place: `queued` until a job of it starts, then `in_progress` (a
      // GitHub-hosted first job, or a job of an earlier attempt kept as done; audit N6, OpenAPI #1).
      for (const status of ['queued', 'in_progress']) {
        const found = await getAllPages(get, `${base}/runs?status=${status}&per_page=100`, listOf(runState, 'workflow_runs'));
        for (const run of found) open.set(run.id, run);
      }
      r.lastDeepCheckAt = now;
    }
    return [...open.values()];
  }

  /** One sweep through `get`. `cost` reads the call's request counters once the sweep is done. */
  async sweep(
    get: ConditionalGet,
    allowance: (sinceLastSweepMs: number) => SweepAllowance,
    cost: () => { requests: number; notModified: number; rate: RateSnapshot | null },
  ): Promise<SweepResult> {
    const now = this.d.now();
    this.firstSweepAt ??= now;
    const granted = allowance(this.lastSweepAt === undefined ? 60_000 : now - this.lastSweepAt);
    if (granted.hard > 0) await this.refreshRepos(get, now);
    const spent = cost().requests;
    const due = this.pick(now, granted.share - spent, granted.hard - spent);
    await Promise.all(due.map((r) => this.sweepRepo(get, r, now)));
    this.lastSweepAt = now;

    const jobs: Job[] = [];
    let coldest = 0;
    let unswept = 0;
    for (const r of this.repos.values()) {
      for (const { jobs: js } of r.runs.values()) {
        if (r.publicRepo === undefined) jobs.push(...js);
        else for (const j of js) jobs.push({ ...j, repoPublic: r.publicRepo });
      }
      if (r.lastSweptAt === undefined) unswept++;
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
      unsweptRepositories: unswept,
      sweptRepositories: due.length,
    };
    this.d.logger.debug('github demand sweep', {
      repos: this.repos.size,
      polled: due.length,
      granted,
      unswept,
      jobs: jobs.length,
      requests: stats.requests,
      notModified: stats.notModified,
      rateLimitRemaining: stats.rateLimitRemaining,
      coldestRepoAgeSeconds: stats.coldestRepoAgeSeconds,
    });
    return { jobs, stats };
  }
}
