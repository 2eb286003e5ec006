/**
 * Conditional GETs for the GitHub adapter: an ETag cache keyed by the full request URL, a per-call
 * `Tracker` that counts the HTTP requests really sent (retries included), 304s and the rate-limit
 * headers seen, and `link`-header pagination on top of both.
 *
 * ## Gotchas
 * - A 304 costs no primary rate limit, but `@octokit/request` THROWS `RequestError` with status 304
 *   instead of resolving (facts §7): we catch it and return the cached body.
 * - Each page has its own URL and so its own ETag; pagination follows `rel="next"` links verbatim
 *   (never builds page URLs) so every page is cached under the URL GitHub gave.
 * - Counting happens in a `fetch` passed per request (`request.fetch`), which every retry of the
 *   throttling and retry plugins goes through; hooks would see one logical request instead.
 * - The cache is bounded (least recently used out first): job lists of finished runs are never asked
 *   again and would otherwise pile up.
 */
import type { Octokit } from '@octokit/rest';

export interface CachedPage {
  etag: string;
  data: unknown;
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

  constructor(
    private readonly onRate: (rate: RateSnapshot) => void = () => undefined,
    private readonly timeoutMs = 30_000,
    private readonly baseFetch: typeof globalThis.fetch = globalThis.fetch,
  ) {}

  readonly fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    this.requests++;
    // A hung connection must not hang the tick: every attempt gets its own deadline.
    const signal = init?.signal ?? AbortSignal.timeout(this.timeoutMs);
    const res = await this.baseFetch(input, { ...init, signal });
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

export interface Page {
  data: unknown;
  link: string | undefined;
  notModified: boolean;
}

/** GET an absolute URL with `if-none-match` when cached; a 304 returns the cached body. */
export async function conditionalGet(octokit: Octokit, cache: EtagCache | undefined, url: string, tracker: Tracker): Promise<Page> {
  const cached = cache?.get(url);
  const headers: Record<string, string> = cached ? { 'if-none-match': cached.etag } : {};
  try {
    const res = await octokit.request(`GET ${url}`, { headers, request: { fetch: tracker.fetch } });
    const etag = res.headers.etag;
    const link = res.headers.link;
    if (cache && etag) cache.set(url, { etag, data: res.data, link });
    return { data: res.data, link, notModified: false };
  } catch (err) {
    if (cached && (err as { status?: number }).status === 304) {
      return { data: cached.data, link: cached.link, notModified: true };
    }
    throw err;
  }
}

/**
 * Every item of a paginated list, following `rel="next"`. `key` names the array inside wrapped
 * responses (`{total_count, workflow_runs: [...]}`); omit it for plain arrays.
 */
export async function getAllPages<T>(
  get: (url: string) => Promise<Page>,
  firstUrl: string,
  key?: string,
  maxPages = 1000,
): Promise<T[]> {
  const items: T[] = [];
  let url: string | undefined = firstUrl;
  for (let n = 0; url !== undefined; n++) {
    if (n >= maxPages) throw new Error(`pagination of ${firstUrl} exceeded ${maxPages} pages`);
    const page = await get(url);
    const list = key === undefined ? page.data : (page.data as Record<string, unknown> | null)?.[key];
    if (!Array.isArray(list)) throw new Error(`unexpected response shape from ${url}${key ? ` (no ${key} array)` : ''}`);
    items.push(...(list as T[]));
    url = parseLink(page.link).next;
  }
  return items;
}
