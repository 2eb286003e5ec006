/**
 * The token stays home: every request that carries the GitHub credentials goes to the origin of
 * `github.api_url` and nowhere else. Pagination links (`Link: <…>; rel="next"`, followed by our sweep
 * and by Octokit's `paginate`) and URLs read back from the sweep state file are checked here before a
 * token is attached; HTTP redirects are handled by the transport, which drops `authorization` on a
 * redirect to another origin (github-transport.ts).
 *
 * ## Gotchas
 * - A `Link` header may name any URI (RFC 8288 §3.1), and GitHub's docs tell clients to follow the
 *   links as given rather than build page URLs
 *   (https://docs.github.com/en/rest/using-the-rest-api/using-pagination-in-the-rest-api). So the
 *   server (or a reverse proxy in front of GHES that writes its internal host into the header) decides
 *   where the next request goes: the check is on our side (audit turn4-security N3).
 * - Refusing is an error, not a skipped page: a list cut short would read as "fewer jobs / runners"
 *   (fail closed: the call fails and the tick treats GitHub as unknown).
 * - Octokit resolves a relative `url` by plain concatenation with `baseUrl` (@octokit/endpoint
 *   `parse`: `if (!/^http/.test(url)) url = baseUrl + url`), so the check does the same.
 */

/** The origin (`scheme://host[:port]`) of `github.api_url`. */
export function apiOrigin(apiUrl: string): string {
  return new URL(apiUrl).origin;
}

export class OffOriginError extends Error {
  constructor(readonly target: string, readonly origin: string, what: string) {
    super(`refusing to send the GitHub credentials to ${safeOrigin(target)}: ${what} points outside github.api_url's origin ${origin}`);
    this.name = 'OffOriginError';
  }
}

/** Throws OffOriginError unless `url` (absolute, or relative to `baseUrl` as Octokit resolves it) is on `origin`. */
export function assertApiOrigin(url: string, origin: string, what = 'the URL', baseUrl?: string): void {
  const absolute = /^http/i.test(url) || baseUrl === undefined ? url : baseUrl + url;
  let target: string;
  try {
    target = new URL(absolute).origin;
  } catch {
    throw new OffOriginError(absolute, origin, `${what} (not a URL)`);
  }
  if (target !== origin) throw new OffOriginError(absolute, origin, what);
}

/** True when every URL of a `Link` header value is on `origin` (an absent header is fine). */
export function linkOnOrigin(link: string | undefined, origin: string): boolean {
  if (link === undefined) return true;
  for (const m of link.matchAll(/<([^>]*)>/g)) {
    try {
      if (new URL(m[1]!).origin !== origin) return false;
    } catch {
      return false;
    }
  }
  return true;
}

/** The origin only: a URL may carry query text we would rather not log. */
function safeOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(not a URL)';
  }
}
