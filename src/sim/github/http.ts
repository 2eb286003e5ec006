/**
 * HTTP plumbing of the fake GitHub: the request context handed to routes, the `Reply` they return,
 * GitHub-shaped error bodies, `link` pagination and weak ETags.
 *
 * ## Gotchas
 * - Pagination follows the docs (facts §6): `per_page` ≤ 100 (default 30) is copied into every link,
 *   `prev`/`first` only after page 1, `next`/`last` only before the last page, no `link` header at all
 *   when everything fits on one page.
 * - Error bodies carry `status` as a **string**, as in the spec.
 */
import { createHash } from 'node:crypto';

export interface Ctx {
  method: string;
  /** Full request URL (with the GHES prefix, if any). */
  url: URL;
  /** The path with the GHES prefix removed, e.g. `/orgs/acme/repos`. */
  path: string;
  /** Base URL clients use as `api_url` (origin + prefix). */
  base: string;
  /** Where runners reach the broker, when it listens apart from the API (a TLS API); else `base`. */
  brokerBase?: string;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Set by routes that must not get an ETag (writes, the broker). */
  noEtag?: boolean;
}

const DOCS = 'https://docs.github.com/rest';

export function errorReply(status: number, message: string, extra: Record<string, unknown> = {}, docPath = ''): Reply {
  return { status, body: { message, documentation_url: `${DOCS}${docPath}`, status: String(status), ...extra }, noEtag: true };
}

export function json(status: number, body: unknown): Reply {
  return { status, body };
}

export function weakEtag(body: string): string {
  return `W/"${createHash('sha1').update(body).digest('hex')}"`;
}

/** Whether an `if-none-match` header value matches an ETag (weak comparison, lists allowed). */
export function etagMatches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  const norm = (s: string) => s.trim().replace(/^W\//, '');
  return ifNoneMatch.split(',').some((t) => t.trim() === '*' || norm(t) === norm(etag));
}

export function pageParams(ctx: Ctx): { perPage: number; page: number } {
  const perPageRaw = Number(ctx.url.searchParams.get('per_page') ?? 30);
  const pageRaw = Number(ctx.url.searchParams.get('page') ?? 1);
  const perPage = Number.isFinite(perPageRaw) && perPageRaw >= 1 ? Math.min(100, Math.floor(perPageRaw)) : 30;
  const page = Number.isFinite(pageRaw) && pageRaw >= 1 ? Math.floor(pageRaw) : 1;
  return { perPage, page };
}

/** One page of `items` and the `link` header for it (undefined when everything fits on one page). */
export function paginate<T>(ctx: Ctx, items: T[]): { items: T[]; link: string | undefined } {
  const { perPage, page } = pageParams(ctx);
  const last = Math.max(1, Math.ceil(items.length / perPage));
  const slice = items.slice((page - 1) * perPage, page * perPage);
  if (last === 1 && page === 1) return { items: slice, link: undefined };
  const linkTo = (p: number, rel: string) => {
    const u = new URL(ctx.url.toString());
    u.searchParams.set('per_page', String(perPage));
    u.searchParams.set('page', String(p));
    return `<${u.toString()}>; rel="${rel}"`;
  };
  const parts: string[] = [];
  if (page > 1) parts.push(linkTo(Math.min(page - 1, last), 'prev'));
  if (page < last) parts.push(linkTo(page + 1, 'next'), linkTo(last, 'last'));
  if (page > 1) parts.push(linkTo(1, 'first'));
  return { items: slice, link: parts.join(', ') };
}

/** A paginated reply; `wrap` names the key of wrapped lists (`{total_count, <wrap>: [...]}`). */
export function pagedReply<T>(ctx: Ctx, items: T[], wrap?: string): Reply {
  const { items: page, link } = paginate(ctx, items);
  const body = wrap ? { total_count: items.length, [wrap]: page } : page;
  return { status: 200, body, ...(link ? { headers: { link } } : {}) };
}

export function header(ctx: Ctx, name: string): string | undefined {
  const v = ctx.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}
