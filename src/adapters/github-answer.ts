/**
 * Whether an HTTP answer came from GitHub's REST API at all. The API answers JSON on every route,
 * errors included (`application/json; charset=utf-8`;
 * https://docs.github.com/en/rest/using-the-rest-api/troubleshooting-the-rest-api). Anything else —
 * the HTML of a GitHub Enterprise Server host's web interface (an `api_url` without `/api/v3`), a
 * proxy's or captive portal's error page — is not an answer about jobs, runners or repositories.
 *
 * ## Gotchas
 * - A 5xx page keeps its status (an outage, retried as one), with a one-line message.
 * - Fail closed: such a 4xx answer is re-thrown with status 502 (a gateway's bad answer), never
 *   kept as its own 404: callers read a 404 as "that repository / run / runner is gone" (the sweep
 *   then sees no jobs there; a runner deletion counts as done). 502 makes it "GitHub unreadable".
 * - The message is one line naming the URL's origin; the page itself is never carried into a log
 *   line, `ls` or a metric.
 * - Redirects (3xx) and answers without a body (204, 304) are not judged.
 */
import { RequestError } from '@octokit/request-error';

/** Undefined when an answer looks like GitHub's REST API (JSON, a redirect, no body); else why not, one line. */
export function notLikeGitHubApi(status: number, contentType: string | null | undefined): string | undefined {
  if ((status >= 300 && status < 400) || status === 204) return undefined;
  if (/^application\/([\w.+-]+\+)?json\b/i.test((contentType ?? '').trim())) return undefined;
  const type = (contentType ?? '').split(';')[0]!.trim() || 'no content type';
  return `this URL does not answer like the GitHub API (HTTP ${status} ${type}, not JSON)`;
}

/**
 * An error answer `err` (a RequestError with its response) as it should be judged: unchanged when
 * GitHub sent it, else a one-line RequestError with status 502 naming the origin.
 */
export function asGitHubAnswer(err: unknown): unknown {
  const e = err as { status?: number; response?: { headers?: Record<string, unknown> }; request?: { method?: string; url?: string } } | null;
  if (!e || typeof e.status !== 'number' || e.status < 400 || !e.response) return err;
  const contentType = e.response.headers?.['content-type'];
  const why = notLikeGitHubApi(e.status, typeof contentType === 'string' ? contentType : undefined);
  if (!why) return err;
  const url = e.request?.url ?? '';
  let origin = url;
  try {
    origin = new URL(url).origin;
  } catch {
    // not an absolute URL: name it as it is
  }
  const request = { method: (e.request?.method ?? 'GET') as 'GET', url, headers: {} };
  if (e.status >= 500) {
    // GitHub's own front end may answer an outage with a page: still an outage (5xx, retried as one).
    return new RequestError(`${origin}: HTTP ${e.status}, a page instead of the API's JSON (GitHub, or a proxy in between, is failing)`, e.status, { request, cause: err });
  }
  return new RequestError(`${origin}: ${why}; check github.api_url (https://api.github.com, or https://HOST/api/v3 for GitHub Enterprise Server)`, 502, { request, cause: err });
}
