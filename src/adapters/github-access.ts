/**
 * What the GitHub credentials may do and what the configured runner group allows, read without
 * changing anything. Only `tart-fleet validate` asks (through `GitHubAdapter.describeAccess`); the
 * daemon's `GitHub` port does not carry it.
 *
 * ## Telling the token apart
 * - GitHub App: the installation token's `permissions`, from the access_tokens response (kept by
 *   the token source, github-auth.ts).
 * - Classic PAT (or OAuth token): GitHub lists its scopes in `x-oauth-scopes` on every authenticated
 *   response, errors included; the header is present but empty for a token with no scopes.
 * - No such header: a fine-grained PAT, or an installation token passed as a PAT (a workflow's
 *   GITHUB_TOKEN). Their permissions are not visible on the wire; only creating a runner would prove
 *   write access, and validate creates nothing.
 *
 * ## Gotchas
 * - One request answers both questions: `GET /orgs/{org}/actions/runner-groups/{id}`. Its 404 and
 *   403 still carry the headers. A 401, a 5xx after retries or no answer at all is thrown.
 * - The group endpoint needs the same access as the runner endpoints (classic `admin:org`, App and
 *   fine-grained "Self-hosted runners": read), so a 403 there is usually the token's problem.
 */
import type { Octokit } from '@octokit/rest';
import type { TokenSource } from './github-auth.js';

export type TokenAccess =
  | { kind: 'app'; permissions: Readonly<Record<string, string>>; repositorySelection: string }
  | { kind: 'classic'; scopes: string[] }
  | { kind: 'fine-grained' };

/** An org runner group (spec schema `runner-groups-org`), the fields validate judges. */
export interface RunnerGroupInfo {
  id: number;
  name: string;
  /** `all`, `selected` (listed repositories only) or `private` (private repositories only). */
  visibility: string;
  isDefault: boolean;
  /** Shared into the org by its enterprise (its settings are made there). */
  inherited: boolean;
  allowsPublicRepositories: boolean;
  restrictedToWorkflows: boolean;
  selectedWorkflows: string[];
}

export type RunnerGroupLookup =
  | { kind: 'found'; group: RunnerGroupInfo }
  | { kind: 'not-found' }
  /** 403: GitHub's own message, e.g. "Must have admin rights to Repository.". */
  | { kind: 'forbidden'; message: string };

export interface GitHubAccess {
  org: string;
  runnerGroupId: number;
  token: TokenAccess;
  runnerGroup: RunnerGroupLookup;
}

/** What validate needs of the GitHub adapter (implemented by GitHubAdapter); the fleet facts too (github-fleet.ts). */
export interface GitHubAccessProbe {
  describeAccess(runnerGroupId: number): Promise<GitHubAccess>;
}

export interface ApiRunnerGroup {
  id: number;
  name: string;
  visibility: string;
  default: boolean;
  inherited: boolean;
  allows_public_repositories: boolean;
  restricted_to_workflows?: boolean;
  selected_workflows?: string[];
}

type Headers = Record<string, string | number | undefined>;

interface HttpError {
  status?: number;
  response?: { headers?: Headers; data?: unknown };
}

export async function describeAccess(
  deps: { octokit: Octokit; org: string; tokens: TokenSource },
  runnerGroupId: number,
): Promise<GitHubAccess> {
  let headers: Headers;
  let runnerGroup: RunnerGroupLookup;
  try {
    // `octokit.rest.actions` has no method for it (plugin-rest-endpoint-methods lists runner groups
    // only for GHEC/GHES), but the route is typed and the same on api.github.com.
    const res = await deps.octokit.request('GET /orgs/{org}/actions/runner-groups/{runner_group_id}', { org: deps.org, runner_group_id: runnerGroupId });
    headers = res.headers as Headers;
    runnerGroup = { kind: 'found', group: toGroup(res.data) };
  } catch (err) {
    const e = err as HttpError;
    if ((e.status !== 404 && e.status !== 403) || !e.response) throw err;
    headers = e.response.headers ?? {};
    const message = (e.response.data as { message?: unknown } | undefined)?.message;
    runnerGroup = e.status === 404 ? { kind: 'not-found' } : { kind: 'forbidden', message: typeof message === 'string' ? message : 'Forbidden' };
  }
  return { org: deps.org, runnerGroupId, token: tokenAccess(deps.tokens, headers), runnerGroup };
}

function tokenAccess(tokens: TokenSource, headers: Headers): TokenAccess {
  if (tokens.kind === 'app') {
    const grant = tokens.grant();
    // The request above went through the token source, so a grant is there; {} if it was not.
    return { kind: 'app', permissions: grant?.permissions ?? {}, repositorySelection: grant?.repositorySelection ?? 'all' };
  }
  const scopes = headers['x-oauth-scopes'];
  if (scopes === undefined) return { kind: 'fine-grained' };
  return { kind: 'classic', scopes: String(scopes).split(',').map((s) => s.trim()).filter((s) => s !== '') };
}

export function toGroup(g: ApiRunnerGroup): RunnerGroupInfo {
  return {
    id: g.id,
    name: g.name,
    visibility: g.visibility,
    isDefault: g.default === true,
    inherited: g.inherited === true,
    allowsPublicRepositories: g.allows_public_repositories === true,
    restrictedToWorkflows: g.restricted_to_workflows === true,
    selectedWorkflows: g.selected_workflows ?? [],
  };
}
