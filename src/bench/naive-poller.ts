/**
 * The baseline of the org-scale bench: a naive demand poller in the style of ARC's legacy
 * controller. Every `intervalMs` (15 s) it lists the org's repositories (every page), then for
 * every repository `GET …/actions/runs?status=queued` and `?status=in_progress`, then the jobs of
 * every run those return, and records when it first saw each job `queued`. No ETags, no state
 * between sweeps, 8 requests in flight (as tart-fleet's sweep).
 *
 * ## Gotchas
 * - It talks plain `fetch` (not Octokit: only adapters/github*.ts import it), so nothing retries or
 *   throttles behind its back: what it sends is what a poller without a budget sends.
 * - A sweep stops at its first error (a rate-limit 403/429 above all): the rest of it would only be
 *   refused too. It tries again at the next interval, as such pollers do, so once the primary budget
 *   is gone it costs one refused request per interval until the reset.
 * - A sweep that takes longer than the interval is followed by the next one at once.
 */
import { systemClock } from '../adapters/clock.js';

export interface SweepRecord {
  startedAt: number;
  endedAt: number;
  requests: number;
  ok: boolean;
  /** `HTTP 403 GET …` for a failed sweep. */
  error?: string;
}

export interface NaivePollerOptions {
  apiUrl: string;
  org: string;
  token: string;
  intervalMs?: number;
  concurrency?: number;
  now?: () => number;
  /** Called the first time a job is seen `queued`. */
  onQueuedJob?: (jobId: number, at: number) => void;
}

interface Page {
  body: unknown;
  /** The `link` header's rel="next", if any. */
  next: string | undefined;
}

export class NaivePoller {
  readonly firstSeenQueued = new Map<number, number>();
  readonly sweeps: SweepRecord[] = [];
  private readonly intervalMs: number;
  private readonly concurrency: number;
  private readonly now: () => number;

  constructor(private readonly opts: NaivePollerOptions) {
    this.intervalMs = opts.intervalMs ?? 15_000;
    this.concurrency = opts.concurrency ?? 8;
    this.now = opts.now ?? Date.now;
  }

  /** Sweeps every interval until `signal` aborts; the sweep in flight stops before its next request. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const started = this.now();
      await this.sweep(signal);
      const wait = started + this.intervalMs - this.now();
      if (wait > 0) await systemClock.sleep(wait, signal);
    }
  }

  /** One sweep; records it in `sweeps`. */
  async sweep(signal?: AbortSignal): Promise<SweepRecord> {
    const record: SweepRecord = { startedAt: this.now(), endedAt: 0, requests: 0, ok: true };
    const get = async (url: string): Promise<Page> => {
      if (signal?.aborted) throw new Error('aborted');
      record.requests++;
      const res = await fetch(url, {
        // No `signal` here: fetch keeps an abort listener per request on it for a while (thousands a
        // sweep); requests are short, so the sweep checks `aborted` before each one instead.
        headers: { authorization: `token ${this.opts.token}`, accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28' },
      });
      const body = (await res.json().catch(() => undefined)) as unknown;
      if (!res.ok) throw new Error(`HTTP ${res.status} GET ${new URL(url).pathname}`);
      const next = /<([^>]+)>;\s*rel="next"/.exec(res.headers.get('link') ?? '')?.[1];
      return { body, next };
    };
    try {
      const repos: string[] = [];
      let url: string | undefined = `${this.opts.apiUrl}/orgs/${this.opts.org}/repos?per_page=100`;
      while (url) {
        const page = await get(url);
        for (const r of page.body as Array<{ full_name: string }>) repos.push(r.full_name);
        url = page.next;
      }
      await this.pool(repos, async (repo) => {
        const runIds: number[] = [];
        for (const status of ['queued', 'in_progress']) {
          const page = await get(`${this.opts.apiUrl}/repos/${repo}/actions/runs?status=${status}&per_page=100`);
          for (const run of (page.body as { workflow_runs: Array<{ id: number }> }).workflow_runs) runIds.push(run.id);
        }
        for (const runId of runIds) {
          const page = await get(`${this.opts.apiUrl}/repos/${repo}/actions/runs/${runId}/jobs?per_page=100`);
          const seenAt = this.now();
          for (const job of (page.body as { jobs: Array<{ id: number; status: string }> }).jobs) {
            if (job.status !== 'queued' || this.firstSeenQueued.has(job.id)) continue;
            this.firstSeenQueued.set(job.id, seenAt);
            this.opts.onQueuedJob?.(job.id, seenAt);
          }
        }
      });
    } catch (err) {
      record.ok = false;
      record.error = (err as Error).message;
    }
    record.endedAt = this.now();
    this.sweeps.push(record);
    return record;
  }

  /** Runs `task` over `items`, `concurrency` at a time; after the first failure starts no more, and rethrows it. */
  private async pool<T>(items: T[], task: (item: T) => Promise<void>): Promise<void> {
    let next = 0;
    let failure: unknown;
    const worker = async () => {
      while (failure === undefined && next < items.length) {
        const item = items[next++]!;
        try {
          await task(item);
        } catch (err) {
          failure ??= err;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, items.length) }, worker));
    if (failure !== undefined) throw failure;
  }
}
