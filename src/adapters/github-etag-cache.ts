/**
 * Conditional GETs for the GitHub adapter: an ETag cache keyed by the full request URL that keeps,
 * per URL, the ETag and a small **summary** of the body (what the caller needs, e.g. the ids and
 * statuses of the runs that are not completed) — never the whole body. A per-call `Tracker` counts
 * the HTTP requests really sent (retries included), the 304s and the rate-limit headers seen, and
 * `link`-header pagination sits on top of both.
 *
 * ## Gotchas
 * - Conditional GETs do not go through Octokit: `@octokit/request` THROWS a `RequestError` for every
 *   304 (facts §7), and its routing, defaults merge and that error cost a fifth of the sweep's CPU
 *   (~70 requests a tick at 1,000 repositories, issue #21). `conditionalGet` reads the status itself
 *   and throws the same `RequestError` Octokit would for anything but a 2xx or the 304.
 * - Summaries, not bodies: a real workflow-run object is ~5 KB and a repository ~4.7 KB; holding 1,000
 *   repositories' pages whole kept ~200 MB alive (issue #21). A summary must be plain JSON (it is
 *   persisted across restarts, github-sweep-state.ts) and must not depend on anything but the body.
 * - The same URL must always be summarised the same way (the cache does not know by which function):
 *   callers use one summariser per kind of URL.
 * - Each page has its own URL and so its own ETag; pagination follows `rel="next"` links verbatim
 *   (never builds page URLs) so every page is cached under the URL GitHub gave; the adapter's
 *   `sendGet` refuses a link off `api_url`'s origin before attaching the token (github-origin.ts).
 * - Counting happens in `Tracker.fetch`: conditional GETs send through it, and Octokit's writes get it
 *   as `request.fetch`, which every retry of the throttling and retry plugins goes through (hooks
 *   would see one logical request instead). It sends through github-transport.ts, not the global
 *   `fetch`.
 * - The cache is bounded (least recently used out first): job lists of finished runs are never asked
 *   again and would otherwise pile up.
 */
import { RequestError } from '@octokit/request-error';
import { githubFetch } from './github-transport.js';

export interface CachedPage<S = unknown> {
  etag: string;
  summary: S;
  link: string | undefined;
}

export class EtagCache {
  private readonly map = new Map<string, CachedPage>();

  constructor(private readonly maxEntries = 20_000) {}

  get(url: string): CachedPage | undefined {
    const hit = this.map.get(url);
    if (hit) {
      // Refresh its recency.
      this.map.delete(url);
      this.map.set(url, hit);
    }
    return hit;
  }

  set(url: string, page: CachedPage): void {
    this.map.delete(url);
    this.map.set(url, page);
    while (this.map.size > this.maxEntries) {
      const oldest = this.map.keys().next().value;
      if (oldest === undefined) break;
      this.map.delete(oldest);
    }
  }

  get size(): number {
    return this.map.size;
  }

  /** Least recently used first, as `load` wants them back. */
  entries(): Array<[string, CachedPage]> {
    return [...this.map.entries()];
  }

  load(entries: Array<[string, CachedPage]>): void {
    for (const [url, page] of entries) this.map.set(url, page);
    while (this.map.size > this.maxEntries) {
      const oldest = this.map.keys().next().value;
      if (oldest === undefined) break;
      this.map.delete(oldest);
    }
  }
}

export interface RateSnapshot {
  limit: number;
  remaining: number;
  /** Epoch seconds. */
  reset: number;
}

/** Counts what one adapter call cost. Pass `tracker.fetch` as `request.fetch`. */
export class Tracker {
  requests = 0;
  notModified = 0;
  rate: RateSnapshot | null = null;
  private readonly send: typeof globalThis.fetch;

  constructor(
    private readonly onRate: (rate: RateSnapshot) => void = () => undefined,
    timeoutMs = 30_000,
    private readonly onSend: () => void = () => undefined,
  ) {
    this.send = githubFetch(timeoutMs);
  }

  readonly fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    this.requests++;
    this.onSend();
    // A hung connection must not hang the tick: every attempt has its own deadline (github-transport.ts).
    const res = await this.send(input, init);
    if (res.status === 304) this.notModified++;
    const limit = Number(res.headers.get('x-ratelimit-limit'));
    const remaining = res.headers.get('x-ratelimit-remaining');
    const reset = Number(res.headers.get('x-ratelimit-reset'));
    if (remaining !== null && Number.isFinite(Number(remaining)) && Number.isFinite(limit) && limit > 0) {
      this.rate = { limit, remaining: Number(remaining), reset };
      this.onRate(this.rate);
    }
    return res;
  };
}

export function parseLink(link: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!link) return out;
  for (const m of link.matchAll(/<([^>]+)>\s*;\s*rel="([^"]+)"/g)) out[m[2]!] = m[1]!;
  return out;
}

export interface Page<S> {
  summary: S;
  link: string | undefined;
  notModified: boolean;
}

/** Turns a response body into what the caller keeps; throws on a body of the wrong shape. */
export type Summarise<S> = (data: unknown, url: string) => S;

/** A conditional GET of one URL: the summary of its body, from the cache on a 304. */
export type ConditionalGet = <S>(url: string, summarise: Summarise<S>) => Promise<Page<S>>;

/**
 * Sends one GET of an absolute URL with these extra headers and answers the raw response; the
 * adapter adds the credentials and the fixed headers (github.ts). A failure to get any answer
 * (connection lost, timeout) is thrown as a `RequestError` with status 500, as @octokit/request does.
 */
export type SendGet = (url: string, headers: Record<string, string>) => Promise<Response>;

/**
 * GET an absolute URL with `if-none-match` when cached; a 304 returns the cached summary. Any other
 * answer but a 2xx is thrown as a `RequestError` carrying what callers judge it by, as
 * @octokit/request would: the status, GitHub's message, the response headers and body.
 */
export async function conditionalGet<S>(send: SendGet, cache: EtagCache | undefined, url: string, summarise: Summarise<S>): Promise<Page<S>> {
  const cached = cache?.get(url);
  const res = await send(url, cached ? { 'if-none-match': cached.etag } : {});
  if (res.status === 304 && cached) return { summary: cached.summary as S, link: cached.link, notModified: true };
  const data = await bodyOf(res);
  if (res.status < 200 || res.status >= 300) throw httpError(url, res, data);
  const summary = summarise(data, url);
  const etag = res.headers.get('etag') ?? undefined;
  const link = res.headers.get('link') ?? undefined;
  if (cache && etag) cache.set(url, { etag, summary, link });
  return { summary, link, notModified: false };
}

/** A JSON body parsed (GitHub's answers, errors included, are JSON); any other body as text. */
async function bodyOf(res: Response): Promise<unknown> {
  const text = await res.text();
  if (!/\bjson\b/i.test(res.headers.get('content-type') ?? '')) return text;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** The error @octokit/request would throw for this answer: same class, status, message and fields. */
function httpError(url: string, res: Response, data: unknown): RequestError {
  const headers: Record<string, string> = {};
  for (const [name, value] of res.headers) headers[name] = value;
  const body = data as { message?: unknown; documentation_url?: unknown } | null;
  const message = typeof body?.message === 'string'
    ? `${body.message}${typeof body.documentation_url === 'string' ? ` - ${body.documentation_url}` : ''}`
    : typeof data === 'string' && data !== '' ? data : `HTTP ${res.status}`;
  return new RequestError(message, res.status, { request: { method: 'GET', url, headers: {} }, response: { url, status: res.status, headers, data } });
}

/** A summariser for list pages: the array (inside `key` for wrapped responses) mapped item by item. */
export function listOf<T>(map: (item: unknown) => T | undefined, key?: string): Summarise<T[]> {
  return (data, url) => {
    const list = key === undefined ? data : (data as Record<string, unknown> | null)?.[key];
    if (!Array.isArray(list)) throw new Error(`unexpected response shape from ${url}${key ? ` (no ${key} array)` : ''}`);
    const out: T[] = [];
    for (const item of list) {
      const v = map(item);
      if (v !== undefined) out.push(v);
    }
    return out;
  };
}

/** Every item of a paginated list, following `rel="next"`; each page summarised by `summarise`. */
export async function getAllPages<T>(get: ConditionalGet, firstUrl: string, summarise: Summarise<T[]>, maxPages = 1000): Promise<T[]> {
  const items: T[] = [];
  let url: string | undefined = firstUrl;
  for (let n = 0; url !== undefined; n++) {
    if (n >= maxPages) throw new Error(`pagination of ${firstUrl} exceeded ${maxPages} pages`);
    const page: Page<T[]> = await get(url, summarise);
    items.push(...page.summary);
    url = parseLink(page.link).next;
  }
  return items;
}
