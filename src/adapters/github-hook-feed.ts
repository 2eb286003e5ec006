/**
 * The event feed: GitHub's own log of webhook delivery attempts, read by polling, as hints of new
 * jobs. An org webhook (`github.hook_id`: `GET /orgs/{org}/hooks/{id}/deliveries`) or, with GitHub App
 * auth, the App's own webhook (`github.app_hook: true`: `GET /app/hook/deliveries` with the App's JWT)
 * subscribed to `workflow_job` records every delivery attempt, failed ones included, newest first.
 * Nothing here needs an inbound connection: the hook's URL may point at a name that never resolves.
 *
 * Each `poll()` reads the first page conditionally (a 304: nothing new), follows `rel="next"` while a
 * page is all new, and turns each new `workflow_job` delivery with action `queued` into a hint for its
 * repository (`repository_id`; a delivery whose repository the sweep does not know by id is read once
 * for its payload's `repository.full_name`). The sweep then reads that repository first, at once.
 *
 * Sources: GitHub's REST docs for org and App webhooks and the delivery log (cited in
 * src/sim/github/hooks.ts, the fake that follows them).
 *
 * ## Gotchas
 * - Hints, never truth: a hint only makes a repository the sweep already knows urgent. Demand comes
 *   only from what the sweep reads back from the Actions API, so a forged, stale or duplicated delivery
 *   costs one conditional GET and creates nothing.
 * - A lost or late delivery is not an error: the sweep keeps its round and finds the job there.
 * - A failing feed (hook deleted: 404; no permission: 403; bad JWT: 401; 5xx) is logged once per change
 *   of state, shown in `ls` and the metrics, and polled again only after `FAILING_RETRY_MS`: the sweep
 *   carries on alone meanwhile.
 * - Deliveries carry `throttled_at` when GitHub throttled the hook; they are still hints, and counted.
 * - The first poll after a start only remembers what is there (hinting deliveries of the last
 *   `STARTUP_WINDOW_MS`): older ones are the sweep's business.
 * - Seen delivery ids are kept for the list's retention (3 days) at most, in a bounded set.
 */
import type { Logger } from '../core/logger.js';
import type { EventFeedStatus } from '../core/ports.js';
import { type ConditionalGet, type Page, parseLink } from './github-etag-cache.js';

export type HookSource = { kind: 'org'; hookId: number } | { kind: 'app' };

/** What `ls` and the metrics show of the feed (core/ports.ts). */
export type HookFeedStatus = EventFeedStatus;

export interface HookFeedDeps {
  apiUrl: string;
  org: string;
  source: HookSource;
  now: () => number;
  logger: Logger;
  /** A ConditionalGet for one poll (its requests are counted in the adapter's budget), and its count. Throws while backing off. */
  begin(): { get: ConditionalGet; requests: () => number };
  /** Whether the minute's budget has room for a poll (the sweep's reserve is not the feed's). */
  canSpend(): boolean;
  /** The repository the sweep knows by this id, if any. */
  repoById(id: number): string | undefined;
  /** Makes `fullName` urgent; false when the sweep does not sweep it. */
  hint(fullName: string, at: number): boolean;
}

interface DeliveryItem {
  id: number;
  deliveredAt: number;
  event: string;
  action: string | null;
  repositoryId: number | null;
  throttled: boolean;
}

const PER_PAGE = 100;
const MAX_PAGES = 5;
const MAX_DETAILS_PER_POLL = 10;
const FAILING_RETRY_MS = 60_000;
const STARTUP_WINDOW_MS = 120_000;
const RETENTION_MS = 3 * 86_400_000;
const MAX_SEEN = 50_000;

const item = (raw: unknown): DeliveryItem => {
  const o = raw as { id?: unknown; delivered_at?: string; event?: string; action?: string | null; repository_id?: number | null; throttled_at?: string | null };
  if (typeof o?.id !== 'number') throw new Error('unexpected webhook delivery without id');
  return {
    id: o.id,
    deliveredAt: Date.parse(o.delivered_at ?? '') || 0,
    event: String(o.event ?? ''),
    action: o.action ?? null,
    repositoryId: typeof o.repository_id === 'number' ? o.repository_id : null,
    throttled: typeof o.throttled_at === 'string' && o.throttled_at !== '',
  };
};

const page = (data: unknown, url: string): DeliveryItem[] => {
  if (!Array.isArray(data)) throw new Error(`unexpected response shape from ${url} (not a list of deliveries)`);
  return data.map(item);
};

const repoOfPayload = (data: unknown): string | null => {
  const name = (data as { request?: { payload?: { repository?: { full_name?: unknown } } } } | null)?.request?.payload?.repository?.full_name;
  return typeof name === 'string' ? name : null;
};

const statusOf = (err: unknown): number | undefined => (err as { status?: number } | null)?.status;

export class HookFeed {
  private readonly seen = new Map<number, number>(); // id → delivered_at
  private started = false;
  private failingUntil = 0;
  private readonly s: HookFeedStatus;

  constructor(private readonly d: HookFeedDeps) {
    this.s = {
      source: d.source.kind === 'org' ? `org hook ${d.source.hookId}` : 'app hook',
      state: 'starting',
      problem: null,
      lastPollAt: null,
      lastOkAt: null,
      queuedDeliveries: 0,
      hints: 0,
      ignored: 0,
      throttled: 0,
      polls: 0,
      requests: 0,
    };
  }

  status(): HookFeedStatus {
    return { ...this.s };
  }

  /** Whether the feed is working (the sweep may then leave quiet repositories longer). */
  get healthy(): boolean {
    return this.s.state === 'ok';
  }

  private get listUrl(): string {
    const { apiUrl, org, source } = this.d;
    return source.kind === 'org'
      ? `${apiUrl}/orgs/${encodeURIComponent(org)}/hooks/${source.hookId}/deliveries?per_page=${PER_PAGE}`
      : `${apiUrl}/app/hook/deliveries?per_page=${PER_PAGE}`;
  }

  private detailUrl(id: number): string {
    const { apiUrl, org, source } = this.d;
    return source.kind === 'org'
      ? `${apiUrl}/orgs/${encodeURIComponent(org)}/hooks/${source.hookId}/deliveries/${id}`
      : `${apiUrl}/app/hook/deliveries/${id}`;
  }

  /** One poll; the number of hints it gave. Never throws: a failure is the feed's state. */
  async poll(): Promise<number> {
    const now = this.d.now();
    if (now < this.failingUntil || !this.d.canSpend()) return 0;
    this.s.lastPollAt = now;
    this.s.polls++;
    let requests = () => 0;
    try {
      const call = this.d.begin();
      requests = call.requests;
      const get = call.get;
      const fresh = await this.readNew(get);
      const hints = await this.hintAll(get, fresh, now);
      this.ok(now);
      return hints;
    } catch (err) {
      // The whole adapter is backing off a rate limit (github-budget.ts): not the feed's failure.
      if ((err as Error | null)?.name !== 'GitHubBackoffError') this.fail(err, now);
      return 0;
    } finally {
      this.s.requests += requests();
    }
  }

  /** The deliveries not seen before, newest first. */
  private async readNew(get: ConditionalGet): Promise<DeliveryItem[]> {
    const fresh: DeliveryItem[] = [];
    let url: string | undefined = this.listUrl;
    for (let n = 0; url !== undefined && n < MAX_PAGES; n++) {
      const p: Page<DeliveryItem[]> = await get(url, page);
      if (p.notModified && n === 0) return [];
      const unseen = p.summary.filter((d) => !this.seen.has(d.id));
      fresh.push(...unseen);
      // A page that is all new may have more new ones after it (not on the first poll: that is history).
      url = this.started && unseen.length === p.summary.length && p.summary.length > 0 ? parseLink(p.link).next : undefined;
    }
    return fresh;
  }

  private async hintAll(get: ConditionalGet, fresh: DeliveryItem[], now: number): Promise<number> {
    const first = !this.started;
    this.started = true;
    let hints = 0;
    let details = 0;
    const hinted = new Set<string>();
    for (const d of fresh) {
      this.remember(d, now);
      if (d.throttled) this.s.throttled++;
      if (d.event !== 'workflow_job' || d.action !== 'queued') continue;
      this.s.queuedDeliveries++;
      if (first && now - d.deliveredAt > STARTUP_WINDOW_MS) continue;
      let repo = d.repositoryId === null ? undefined : this.d.repoById(d.repositoryId);
      if (repo === undefined && details < MAX_DETAILS_PER_POLL) {
        // Not known by id (an allow-list, or a repository new since the list was read): its payload says.
        details++;
        // Summarised to the name: the payload itself is never kept (the ETag cache is persisted).
        repo = (await get(this.detailUrl(d.id), repoOfPayload)).summary ?? undefined;
      }
      if (repo !== undefined && hinted.has(repo)) continue;
      if (repo !== undefined && this.d.hint(repo, now)) {
        hinted.add(repo);
        hints++;
        this.s.hints++;
      } else {
        this.s.ignored++;
        this.d.logger.debug('webhook delivery for a repository the sweep does not read; ignored', { delivery: d.id, repository_id: d.repositoryId, repo: repo ?? null });
      }
    }
    if (hints > 0) this.d.logger.debug('webhook deliveries: new jobs queued', { repos: [...hinted] });
    return hints;
  }

  private remember(d: DeliveryItem, now: number): void {
    this.seen.set(d.id, d.deliveredAt);
    if (this.seen.size <= MAX_SEEN) return;
    for (const [id, at] of this.seen) {
      if (this.seen.size <= MAX_SEEN / 2 && now - at < RETENTION_MS) break;
      this.seen.delete(id);
    }
  }

  private ok(now: number): void {
    if (this.s.state === 'failing') this.d.logger.info('webhook delivery feed working again', { source: this.s.source });
    else if (this.s.state === 'starting') this.d.logger.info('webhook delivery feed on: new jobs are seen within seconds', { source: this.s.source });
    this.s.state = 'ok';
    this.s.problem = null;
    this.s.lastOkAt = now;
  }

  private fail(err: unknown, now: number): void {
    const problem = this.describe(err);
    if (this.s.state !== 'failing' || this.s.problem !== problem) {
      this.d.logger.warn('webhook delivery feed failing; the sweep carries on alone', { source: this.s.source, problem });
    }
    this.s.state = 'failing';
    this.s.problem = problem;
    this.failingUntil = now + FAILING_RETRY_MS;
  }

  private describe(err: unknown): string {
    const status = statusOf(err);
    const where = this.d.source.kind === 'org' ? `org webhook ${this.d.source.hookId} of ${this.d.org}` : "the GitHub App's webhook";
    if (status === 404) {
      return this.d.source.kind === 'org'
        ? `${where} not found (deleted, or not readable with this token): check github.hook_id, or run \`tart-fleet hook create\``
        : `${where} not found: give the App a webhook URL (any URL; tart-fleet only reads the delivery log) and subscribe it to workflow_job`;
    }
    if (status === 403) {
      return this.d.source.kind === 'org'
        ? `${where}: deliveries not readable (403): a classic token needs the admin:org_hook scope and an org owner; a fine-grained token or App the organization permission "Webhooks: read"`
        : `${where}: deliveries not readable (403)`;
    }
    if (status === 401) return `${where}: 401 Bad credentials${this.d.source.kind === 'app' ? ' (the App JWT was refused: check the App id and private key, and the clock)' : ''}`;
    return `${where}: ${(err as Error)?.message ?? String(err)}`;
  }
}
