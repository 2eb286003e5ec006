/**
 * What `validate` says when GitHub answers, but not with what was asked for: the first GitHub line
 * names the real cause (the URL is not the GitHub API, the org is unknown to this token) and the
 * checks that would only repeat it as something else are left out.
 *
 * - An `api_url` that is a web server (a GitHub Enterprise Server host without `/api/v3`, a proxy's
 *   error page, any other site) answers HTML. GitHub's REST API answers JSON on every route, errors
 *   included (`application/json; charset=utf-8`; https://docs.github.com/en/rest/using-the-rest-api/troubleshooting-the-rest-api).
 *   One line says so; the page itself is never printed.
 * - `GET /orgs/{org}/actions/runners` answering 404 means the org does not exist or the token cannot
 *   see it: GitHub answers 404, not 403, for resources a token may not know of ("may return a 404
 *   Not Found instead of a 403 Forbidden", same page, "404 Not Found for an existing resource").
 *
 * ## Gotchas
 * - A 3xx from the API root is not judged (a redirect is followed by the real requests).
 * - The wording names the org and the URL, never the token.
 */
import type { CheckResult } from './checks.js';

export { notLikeGitHubApi } from '../adapters/github-answer.js';

export const API_URL_FIX = 'set github.api_url (TART_FLEET_GITHUB_API_URL) to https://api.github.com, or https://HOST/api/v3 for GitHub Enterprise Server';

/** The `github` line for the first GitHub request's failure (`GET /orgs/{org}/actions/runners`). */
export function githubFailureCheck(err: unknown, org: string): CheckResult {
  const status = (err as { status?: unknown } | null)?.status;
  if (status === 404) {
    return {
      status: 'fail',
      what: 'github',
      detail: `org ${org} not found (or the token cannot see it): GitHub answered 404 to GET /orgs/${org}/actions/runners`,
      fix: `check github.org (the name in https://github.com/${org}); the token's owner must belong to the org, a GitHub App must be installed on it, a fine-grained PAT's resource owner must be the org`,
    };
  }
  return { status: 'fail', what: 'github', detail: (err as Error).message };
}
