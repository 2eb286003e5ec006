/**
 * The GitHub adapter: the `GitHub` port over `@octokit/rest` with the throttling and retry plugins,
 * a PAT or a GitHub App (github-auth.ts), ETag-conditional GETs (github-etag-cache.ts) and the demand
 * sweep (github-sweep.ts). GitHub Enterprise Server works through `apiUrl` (`https://HOST/api/v3`).
 *
 * ## Lifecycle
 * Build once per process (`new GitHubAdapter(opts)`); it keeps the ETag cache, the per-repo sweep
 * schedule and the current installation token between calls. No timers, nothing to close.
 *
 * ## Two ways to GitHub
 * Writes (claims, deletions) and `validate`'s probes go through `@octokit/rest` with plugin-throttling
 * (1 s between mutating requests, rate-limit waits) and plugin-retry. The reads — the sweep's
 * conditional GETs, the runner list, a job's re-check, ~70 a tick at 1,000 repositories — are sent
 * straight through the transport (`sendGet` → github-transport.ts) and judged by `conditionalGet`
 * (github-etag-cache.ts). Measured for the adapter alone at 1,000 repositories, a tick every 15 s:
 * through the plugins 1.5 ms of CPU per 304, through `@octokit/core` alone 0.33 ms (hot), and this
 * way a fifth less again (~51 → ~41 ms a tick, side by side; issue #21). What Octokit did for reads is
 * done here: the fixed headers and the token (`sendGet`, with one fresh App token after a 401), our
 * request budget paces them (github-budget.ts), a rate-limit answer backs the whole adapter off, and
 * a 5xx or a lost connection is retried like plugin-retry would (1, 4, 9 × the base).
 *
 * ## Gotchas
 * - Fail closed: every method returns what it saw or throws (rate limited beyond our patience,
 *   5xx after retries, outage). Nothing is turned into an empty list.
 * - `generate-jitconfig` is sent with retries disabled: a retried POST that GitHub had carried out
 *   comes back 409 for our own runner (runs-on saw exactly this, facts §5). A 409 is looked up once
 *   with `?name=` and returned as a conflict; never looped on.
 * - plugin-retry would retry 409 and 429 by default; both are in `doNotRetry` (429 is the throttling
 *   plugin's business, 409 is an answer).
 * - The throttling plugin's Bottleneck groups are process-wide singletons keyed by `throttle.id`:
 *   tests pass a unique id, or `enabled: false`, or POSTs are spaced 1 s apart across tests.
 * - Rate-limit handlers retry once, and only if the wait is ≤ `maxRetryAfterSeconds` (60 s); otherwise
 *   the call throws and the tick treats GitHub as unknown.
 * - `describeAccess` (github-access.ts) and `describeFleet` (github-fleet.ts) are for `validate` only
 *   and deliberately not on the port.
 * - Secrets: the token, each installation token, the App key and every `encoded_jit_config` go into
 *   `Secrets` as soon as we hold them; log lines carry method, route and status only.
 */
import { Octokit } from '@octokit/rest';
import { RequestError } from '@octokit/request-error';
import { asGitHubAnswer } from './github-answer.js';
import { throttling } from '@octokit/plugin-throttling';
import { retry } from '@octokit/plugin-retry';
import type { ClaimResult, Demand, DeleteRunnerResult, GitHub, Job, RequestBudgetStatus, Runner } from '../core/ports.js';
import type { Logger } from '../core/logger.js';
import type { Secrets } from '../secrets/redact.js';
import { type GitHubAuth, type TokenSource, createTokenSource } from './github-auth.js';
import { type ConditionalGet, EtagCache, type RateSnapshot, type SendGet, Tracker, conditionalGet, getAllPages, listOf } from './github-etag-cache.js';
import { DemandSweep, jobsOf, jobsUrl, toJob } from './github-sweep.js';
import { RequestBudget, backoffFor } from './github-budget.js';
import { SweepStateFile } from './github-sweep-state.js';
import { apiOrigin, assertApiOrigin } from './github-origin.js';
import { githubFetch } from './github-transport.js';
import { type GitHubAccess, type GitHubAccessProbe, describeAccess } from './github-access.js';
import { HookFeed, type HookFeedStatus, type HookSource } from './github-hook-feed.js';
import { type CreatedHook, type GitHubHookProbe, type HookFacts, describeHook } from './github-hook.js';
import { type FleetFacts, type GitHubFleetProbe, describeFleet } from './github-fleet.js';
import { errorText } from '../core/errors.js';
import { limitConcurrency } from '../core/limit.js';

export { githubAuthFromEnv, GitHubAuthConfigError, type GitHubAuth } from './github-auth.js';

export interface GitHubAdapterOptions {
  /** `https://api.github.com`, or `https://HOST/api/v3` for GitHub Enterprise Server. */
  apiUrl: string;
  org: string;
  auth: GitHubAuth;
  /** Allow-list of repositories (`name` or `owner/name`); [] = every repo the credentials see. */
  repositories: string[];
  logger: Logger;
  secrets: Secrets;
  now?: () => number;
  /** For tests: `enabled: false`, or a unique `id` and a tiny `retryAfterBaseValue` (ms per second). */
  throttle?: { enabled?: boolean; id?: string; retryAfterBaseValue?: number; maxRetryAfterSeconds?: number; maxRetries?: number };
  /** plugin-retry (5xx): `retries` (default 3), `retryAfterBaseValue` (ms, default 1000; waits 1, 4, 9 × it). */
  retry?: { enabled?: boolean; retries?: number; retryAfterBaseValue?: number };
  /** A quiet repo is swept at most this often (default 60); the budget decides how often it really is. */
  quietRepoSweepSeconds?: number;
  /** A repo with a run or push within this window counts 4× as stale (default 600). */
  activeRepoWindowSeconds?: number;
  /** The daemon's poll interval: a busy repo is swept at most once per 80 % of it (default 15). */
  pollSeconds?: number;
  /** `github.max_requests_per_minute`: every request counts, 304s included (default 300). */
  maxRequestsPerMinute?: number;
  /** Where the sweep's ETags and schedule persist across restarts (the daemon: `<state_dir>/github-sweep.json`). */
  sweepStateFile?: string;
  /** Only read `sweepStateFile` (`ls --live` starts from the daemon's state but must not write it). */
  sweepStateReadOnly?: boolean;
  /** Requests in flight at once (default 8). */
  concurrency?: number;
  /** Per-attempt HTTP timeout (default 30 s). */
  requestTimeoutMs?: number;
  /** The event feed (`github.hook_id` / `github.app_hook`): whose webhook delivery log to poll. */
  hook?: HookSource;
}

const ThrottledOctokit = Octokit.plugin(throttling, retry);
type Client = InstanceType<typeof ThrottledOctokit>;

interface ApiRunner {
  id: number;
  name: string;
  os?: string;
  status?: string;
  busy?: boolean;
  version?: string | null;
  labels?: Array<{ name: string }>;
}

/**
 * Whether the runner ever connected. The spec says only that `version` "is only set if the runner has
 * connected"; absent, null and "" all read as never (audit W1: a "" taken as connected would count
 * every booting runner as lost). `os` other than "unknown", online or busy also prove a connection.
 */
export function everConnected(r: Pick<ApiRunner, 'os' | 'version' | 'status' | 'busy'>): boolean {
  return (typeof r.version === 'string' && r.version !== '')
    || (typeof r.os === 'string' && r.os !== '' && r.os.toLowerCase() !== 'unknown')
    || r.status === 'online'
    || r.busy === true;
}

function ourRunner(r: unknown): Runner | undefined {
  const api = r as ApiRunner;
  return typeof api?.name === 'string' && api.name.startsWith('tf-') ? toRunner(api) : undefined;
}

function toRunner(r: ApiRunner): Runner {
  return {
    id: r.id,
    name: r.name,
    labels: (r.labels ?? []).map((l) => l.name),
    status: r.status === 'online' ? 'online' : 'offline',
    busy: r.busy === true,
    everConnected: everConnected(r),
  };
}


/** What Octokit sends with every request (its defaults, with our user agent). */
const READ_HEADERS = { accept: 'application/vnd.github.v3+json', 'user-agent': 'tart-fleet' };

const statusOf = (err: unknown): number | undefined => (err as { status?: number } | null)?.status;

export class GitHubAdapter implements GitHub, GitHubAccessProbe, GitHubFleetProbe, GitHubHookProbe {
  private readonly octokit: Client;
  private readonly log: Logger;
  private readonly apiUrl: string;
  /** `github.api_url`'s origin: the only one the token is sent to (github-origin.ts). */
  private readonly origin: string;
  private readonly org: string;
  private readonly now: () => number;
  private readonly cache = new EtagCache();
  private readonly tokens: TokenSource;
  private readonly sweeper: DemandSweep;
  private readonly limit: <T>(fn: () => Promise<T>) => Promise<T>;
  private readonly timeoutMs: number;
  private readonly readRetries: number;
  private readonly readRetryBaseMs: number;
  private readonly budget: RequestBudget;
  private readonly sweepState: SweepStateFile | undefined;
  private lastRate: RateSnapshot | null = null;
  private sweepInFlight: Promise<Demand> | undefined;
  private readonly feed: HookFeed | undefined;

  constructor(private readonly opts: GitHubAdapterOptions) {
    this.apiUrl = opts.apiUrl.replace(/\/+$/, '');
    this.origin = apiOrigin(this.apiUrl);
    this.org = opts.org;
    this.now = opts.now ?? Date.now;
    this.log = opts.logger.child({ component: 'github' });
    this.timeoutMs = opts.requestTimeoutMs ?? 30_000;
    this.limit = limitConcurrency(opts.concurrency ?? 8);
    // One transport for every call (proxy, private CA, compression, size cap, deadline): the token
    // exchange and the calls below that name no fetch of their own included.
    const transport = githubFetch(this.timeoutMs);
    this.tokens = createTokenSource({
      auth: opts.auth,
      apiUrl: this.apiUrl,
      secrets: opts.secrets,
      now: this.now,
      fetch: transport,
      debug: (msg) => this.log.debug(String(msg)),
    });

    const t = opts.throttle ?? {};
    const maxWait = t.maxRetryAfterSeconds ?? 60;
    const maxRetries = t.maxRetries ?? 1;
    this.budget = new RequestBudget(opts.maxRequestsPerMinute ?? 300, this.now, this.log);
    // Primary: wait for a near reset (once), else fail the call and let nothing else ask until the reset.
    const onPrimary = (retryAfter: number, options: { method?: string; url?: string }, _o: unknown, retryCount: number) => {
      const willRetry = retryCount < maxRetries && retryAfter <= maxWait;
      this.log.warn('github primary rate limit', { method: options.method, route: options.url, retryAfterSeconds: retryAfter, retryCount, willRetry });
      if (!willRetry) this.budget.backOff(this.now() + retryAfter * 1000, 'primary rate limit exhausted');
      return willRetry;
    };
    // Secondary: never retried. Every request sent while it lasts prolongs it, so the whole adapter
    // stops asking for `retry-after` (plugin-throttling's fallback: 60 s), logged once (github-budget.ts).
    const onSecondary = (retryAfter: number) => {
      this.budget.backOff(this.now() + Math.max(retryAfter, 1) * 1000, 'secondary rate limit');
      return false;
    };
    this.octokit = new ThrottledOctokit({
      baseUrl: this.apiUrl,
      userAgent: 'tart-fleet',
      request: { fetch: transport },
      // plugin-request-log reports every request (info) and every failure (error), expected 404/409
      // included; we log outcomes ourselves, so those stay at debug. Plugin warnings stay warnings.
      log: {
        debug: () => undefined,
        info: () => undefined,
        warn: (msg: string) => this.log.warn(String(msg)),
        error: (msg: string) => this.log.debug(String(msg)),
      },
      throttle: {
        enabled: t.enabled ?? true,
        id: t.id ?? 'tart-fleet',
        ...(t.retryAfterBaseValue !== undefined ? { retryAfterBaseValue: t.retryAfterBaseValue } : {}),
        onRateLimit: onPrimary,
        onSecondaryRateLimit: onSecondary,
      },
      retry: {
        enabled: opts.retry?.enabled ?? true,
        retries: opts.retry?.retries ?? 3,
        retryAfterBaseValue: opts.retry?.retryAfterBaseValue ?? 1000,
        doNotRetry: [400, 401, 403, 404, 409, 410, 422, 429, 451],
      },
    });
    this.readRetries = opts.retry?.enabled === false ? 0 : (opts.retry?.retries ?? 3);
    this.readRetryBaseMs = opts.retry?.retryAfterBaseValue ?? 1000;
    this.authenticate(this.octokit);

    const allowList = opts.repositories.map((r) => (r.includes('/') ? r : `${opts.org}/${r}`));

    const repoSource = allowList.length > 0 ? 'allow-list' : opts.auth.kind === 'app' ? 'installation' : 'org';
    this.sweeper = new DemandSweep({
      apiUrl: this.apiUrl,
      org: opts.org,
      repoSource,
      allowList,
      now: this.now,
      logger: this.log,
      quietRepoSweepSeconds: opts.quietRepoSweepSeconds ?? 60,
      activeRepoWindowSeconds: opts.activeRepoWindowSeconds ?? 600,
      minRepoIntervalMs: (opts.pollSeconds ?? 15) * 800,
      rate: () => this.lastRate,
    });
    if (opts.hook) {
      const source = opts.hook;
      this.budget.feedConfigured = true;
      // The App's hook is read with the App's own JWT; an org hook with the usual token.
      const authorization = source.kind === 'app' ? async () => `Bearer ${await this.tokens.appJwt()}` : undefined;
      this.feed = new HookFeed({
        apiUrl: this.apiUrl,
        org: this.org,
        source,
        now: this.now,
        logger: this.log,
        begin: () => {
          const tracker = this.tracker();
          return { get: this.getWith(tracker, this.cache, authorization), requests: () => tracker.requests };
        },
        canSpend: () => this.budget.lastMinute() < this.budget.perMinute,
        repoById: (id) => this.sweeper.repoById(id),
        hint: (fullName, at) => this.sweeper.hint(fullName, at),
      });
    }
    if (opts.sweepStateFile) {
      this.sweepState = new SweepStateFile(opts.sweepStateFile, { apiUrl: this.apiUrl, org: this.org, repoSource }, this.now, this.log);
      this.sweepState.restore(this.sweeper, this.cache);
    }
  }

  /** Outermost wrap: the current token on every request; after a 401 with an App, one fresh token. */
  private authenticate(client: Client): void {
    client.hook.wrap('request', async (request, options) => {
      // paginate() follows `Link` URLs verbatim: the token goes to api_url's origin only.
      assertApiOrigin(String(options.url), this.origin, 'a request URL (a pagination link?)', String(options.baseUrl ?? this.apiUrl));
      options.headers.authorization = `token ${await this.tokens.token()}`;
      try {
        return await request(options);
      } catch (caught) {
        // A web page instead of the API's JSON is judged as GitHub unreadable (github-answer.ts).
        const err = asGitHubAnswer(caught);
        // A bare 429 (no secondary-limit text, remaining not 0): plugin-throttling lets it through
        // and plugin-retry does not retry it, so the back-off is ours to set (github-budget.ts).
        const limit = statusOf(err) === 429 ? backoffFor(err, this.now()) : undefined;
        if (limit) this.budget.backOff(limit.until, limit.reason);
        if (statusOf(err) !== 401 || this.tokens.kind !== 'app') throw err;
        this.dropTokenAfter401();
        options.headers.authorization = `token ${await this.tokens.token()}`;
        return request(options);
      }
    });
  }

  /** The request budget and any back-off in force (for `ls` and the metrics). */
  requestBudget(): RequestBudgetStatus {
    return this.budget.status();
  }

  /** The token's kind and permissions, and the runner group: read only (github-access.ts). */
  describeAccess(runnerGroupId: number): Promise<GitHubAccess> {
    return describeAccess({ octokit: this.octokit, org: this.org, tokens: this.tokens }, runnerGroupId);
  }

  /** The profiles' runner groups, the org's public repositories, runner versions: read only (github-fleet.ts). */
  describeFleet(groupIds: number[], hostLabel: string): Promise<FleetFacts> {
    return describeFleet({ octokit: this.octokit, org: this.org }, groupIds, hostLabel);
  }

  /** The event feed's webhook, for `validate` (github-hook.ts): read only, nothing cached. */
  describeHook(source: HookSource): Promise<HookFacts> {
    const tracker = this.tracker();
    const appGet = this.tokens.kind === 'app' ? this.getWith(tracker, undefined, async () => `Bearer ${await this.tokens.appJwt()}`) : undefined;
    return describeHook({ apiUrl: this.apiUrl, org: this.org, get: this.getWith(tracker, undefined), appGet }, source);
  }

  /**
   * Creates an org webhook subscribed to `workflow_job` only, for `tart-fleet hook create` (the
   * operator asked). JSON payloads, no secret: nobody receives them (docs/event-feed.md).
   */
  async createOrgHook(url: string): Promise<CreatedHook> {
    const tracker = this.tracker();
    const res = await this.octokit.request('POST /orgs/{org}/hooks', {
      org: this.org,
      name: 'web',
      config: { url, content_type: 'json', insecure_ssl: '0' },
      events: ['workflow_job'],
      active: true,
      request: { retries: 0, fetch: tracker.fetch },
    });
    const h = res.data as { id: number; events?: string[]; active?: boolean; config?: { url?: string } };
    this.log.info('github org webhook created', { hookId: h.id });
    return { id: h.id, url: h.config?.url ?? url, events: h.events ?? [], active: h.active !== false };
  }

  /** A call's request counter; throws while the adapter backs off, so the call sends nothing. */
  private tracker(): Tracker {
    this.budget.throwIfBackingOff();
    return new Tracker(
      (rate) => {
        this.lastRate = rate;
      },
      this.timeoutMs,
      () => this.budget.record(),
    );
  }

  /**
   * GETs of one call, through the concurrency limit. After the first failure (a 404 is an answer, not
   * one) the requests still waiting for a slot are not sent: the call fails anyway (see github-sweep.ts).
   * Neither are they once a back-off began during the call.
   */
  private getWith(tracker: Tracker, cache: EtagCache | undefined = this.cache, authorization?: () => Promise<string>): ConditionalGet {
    let failure: { err: unknown } | undefined;
    return <S>(url: string, summarise: (data: unknown, url: string) => S) => this.limit(async () => {
      if (failure) throw failure.err;
      try {
        return await this.read(url, tracker, cache, summarise, authorization);
      } catch (err) {
        if (statusOf(err) !== 404) failure ??= { err };
        throw err;
      }
    });
  }

  /**
   * One conditional GET (see the header): a rate-limit answer backs the whole adapter off
   * (backoffFor), a 5xx or a lost connection is retried `readRetries` times (base × 1, 4, 9 ms, as
   * plugin-retry would), anything else is the answer.
   */
  private async read<S>(url: string, tracker: Tracker, cache: EtagCache | undefined, summarise: (data: unknown, url: string) => S, authorization?: () => Promise<string>) {
    const send: SendGet = (target, headers) => this.sendGet(target, headers, tracker, authorization);
    for (let attempt = 0; ; attempt++) {
      this.budget.throwIfBackingOff();
      try {
        return await conditionalGet(send, cache, url, summarise);
      } catch (err) {
        const limit = backoffFor(err, this.now());
        if (limit) {
          this.budget.backOff(limit.until, limit.reason);
          throw err;
        }
        const transient = (statusOf(err) ?? 0) >= 500;
        if (!transient || attempt >= this.readRetries) throw err;
        await new Promise((r) => setTimeout(r, this.readRetryBaseMs * (attempt + 1) ** 2));
      }
    }
  }

  /**
   * A GET with the headers Octokit would send and the current token. With a GitHub App, a 401 gets
   * one fresh installation token and one more try, as `authenticate` does for Octokit's requests.
   * No answer at all (connection lost, timeout) is a `RequestError` with status 500, as in Octokit.
   */
  private async sendGet(url: string, headers: Record<string, string>, tracker: Tracker, authorize?: () => Promise<string>): Promise<Response> {
    // Pagination links and persisted URLs decide where reads go: the token goes to api_url's origin only.
    assertApiOrigin(url, this.origin, 'a pagination link or a persisted URL');
    const attempt = async () => {
      const authorization = authorize ? await authorize() : `token ${await this.tokens.token()}`;
      try {
        return await tracker.fetch(url, { method: 'GET', headers: { ...READ_HEADERS, ...headers, authorization } });
      } catch (err) {
        throw new RequestError(errorText(err), 500, { request: { method: 'GET', url, headers: {} }, cause: err });
      }
    };
    const res = await attempt();
    if (res.status !== 401 || this.tokens.kind !== 'app' || authorize) return res;
    await res.arrayBuffer(); // read to the end, so the connection goes back to the pool
    this.dropTokenAfter401();
    return attempt();
  }

  /** A GitHub App's installation token got a 401: the next `token()` fetches a new one (one retry follows). */
  private dropTokenAfter401(): void {
    this.tokens.invalidate();
    this.log.warn('github answered 401; fetching a new installation token and retrying once');
  }

  /**
   * One poll of the event feed (github-hook-feed.ts), if one is configured: the number of repositories
   * it made urgent (0 without a feed). Never throws; the daemon wakes the planner when it is above 0.
   */
  async pollFeed(): Promise<number> {
    if (!this.feed) return 0;
    const hints = await this.feed.poll();
    this.sweeper.feedHealthy = this.feed.healthy;
    return hints;
  }

  /** The event feed's state for `ls` and the metrics (undefined: no feed configured). */
  feedStatus(): HookFeedStatus | undefined {
    return this.feed?.status();
  }

  listJobs(): Promise<Demand> {
    // Two overlapping calls would share the per-repo schedule; the second simply waits for the first.
    this.sweepInFlight ??= this.runSweep().finally(() => {
      this.sweepInFlight = undefined;
    });
    return this.sweepInFlight;
  }

  private async runSweep(): Promise<Demand> {
    const tracker = this.tracker();
    try {
      const result = await this.sweeper.sweep(
        this.getWith(tracker),
        (sinceLastSweepMs) => this.budget.allowance(sinceLastSweepMs),
        () => ({ requests: tracker.requests, notModified: tracker.notModified, rate: tracker.rate }),
      );
      if (!this.opts.sweepStateReadOnly) this.sweepState?.saveIfDue(this.sweeper, this.cache);
      return result;
    } catch (err) {
      this.log.warn('github demand sweep failed', { error: errorText(err), requests: tracker.requests });
      throw err;
    }
  }

  async listRunners(): Promise<Runner[]> {
    const tracker = this.tracker();
    const url = `${this.apiUrl}/orgs/${encodeURIComponent(this.org)}/actions/runners?per_page=100`;
    // Only our runners are kept (compactly) in the cache: the org may have hundreds of others.
    return getAllPages(this.getWith(tracker), url, listOf(ourRunner, 'runners'));
  }

  /**
   * Fresh state of one job, to re-check it before spending a VM on it. Through its run's jobs list,
   * which the sweep has just read: a conditional GET, so a 304 (free) when nothing changed since.
   * Only a job missing from that list (or no run id) costs a counted GET of the job itself.
   */
  async getJob(repo: string, jobId: number, runId?: number): Promise<Job> {
    const tracker = this.tracker();
    const full = repo.includes('/') ? repo : `${this.org}/${repo}`;
    const get = this.getWith(tracker);
    if (runId !== undefined) {
      const jobs = await getAllPages(get, jobsUrl(this.apiUrl, full, runId), jobsOf(full));
      const found = jobs.find((j) => j.id === jobId);
      if (found) return found;
    }
    const path = full.split('/').map(encodeURIComponent).join('/');
    const page = await get(`${this.apiUrl}/repos/${path}/actions/jobs/${jobId}`, (data) => toJob(data as Parameters<typeof toJob>[0], full));
    return page.summary;
  }

  async createJitRunner(req: { name: string; labels: string[]; runnerGroupId: number }): Promise<ClaimResult> {
    const tracker = this.tracker();
    try {
      const res = await this.octokit.request('POST /orgs/{org}/actions/runners/generate-jitconfig', {
        org: this.org,
        name: req.name,
        labels: req.labels,
        runner_group_id: req.runnerGroupId,
        // Never blindly retried: see the header (a retried POST turns into a false 409).
        request: { retries: 0, fetch: tracker.fetch },
      });
      this.opts.secrets.add(res.data.encoded_jit_config);
      this.log.info('github JIT runner created', { runner: req.name, runnerId: res.data.runner.id });
      return { kind: 'created', jit: { runner: toRunner(res.data.runner as ApiRunner), encodedJitConfig: res.data.encoded_jit_config } };
    } catch (err) {
      if (statusOf(err) !== 409) {
        this.log.warn('github JIT runner creation failed', { runner: req.name, status: statusOf(err), error: errorText(err) });
        throw err;
      }
    }
    // 409: the name is taken (another Mac's claim, or ours from an earlier attempt). Look it up once.
    const url = `${this.apiUrl}/orgs/${encodeURIComponent(this.org)}/actions/runners?name=${encodeURIComponent(req.name)}&per_page=100`;
    const found = await getAllPages(this.getWith(tracker, undefined), url, listOf((r) => toRunner(r as ApiRunner), 'runners'));
    const holder = found.find((r) => r.name === req.name);
    this.log.info('github JIT runner name already taken', { runner: req.name, holderId: holder?.id ?? null });
    return { kind: 'conflict', holder };
  }

  async deleteRunner(runnerId: number): Promise<DeleteRunnerResult> {
    const tracker = this.tracker();
    try {
      await this.octokit.request('DELETE /orgs/{org}/actions/runners/{runner_id}', {
        org: this.org,
        runner_id: runnerId,
        request: { fetch: tracker.fetch },
      });
      this.log.info('github runner deleted', { runnerId });
      return 'deleted';
    } catch (err) {
      const status = statusOf(err);
      if (status === 404) return 'not-found';
      // The spec lists only 204 and 422 here; every 422 is "busy", whatever its text (ARC does the same).
      if (status === 422) {
        this.log.info('github runner not deleted: busy', { runnerId, message: errorText(err) });
        return 'busy';
      }
      this.log.warn('github runner deletion failed', { runnerId, status, error: errorText(err) });
      throw err;
    }
  }
}
