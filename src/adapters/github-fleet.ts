/**
 * What `validate` reads about the org beyond the credentials (github-access.ts): every runner group
 * the profiles use, which of the org's repositories are public and which of them each group admits,
 * the latest runner release (`GET /orgs/{org}/actions/runners/downloads`), and the runner versions
 * this Mac's own runners report. Read only; the daemon's `GitHub` port does not carry it.
 *
 * ## Gotchas
 * - Public repositories come from `GET /orgs/{org}/repos?type=public` (all pages). A group with
 *   `selected` visibility admits only its listed repositories
 *   (`GET /orgs/{org}/actions/runner-groups/{id}/repositories`), read only when the group allows
 *   public repositories and the org has some (the only case where the list matters).
 * - "Our" runners are the `tf-` runners carrying this Mac's `tf-host-<runner_name>` label; a runner
 *   that never connected reports no version ("" or null) and is skipped.
 * - The downloads list has no "latest" field: every entry is the current release, so its version is
 *   read from the osx/arm64 entry's file name (`actions-runner-osx-arm64-<version>.tar.gz`), or any
 *   entry's when that one is missing.
 * - A 404 from the downloads list is kept as `downloadsMissing` (the org answered the requests before it).
 * - Errors other than a group's 404/403 are thrown (fail closed: validate reports the line as failed).
 */
import type { Octokit } from '@octokit/rest';
import { type RunnerGroupInfo, type RunnerGroupLookup, toGroup, type ApiRunnerGroup } from './github-access.js';

export interface FleetFacts {
  org: string;
  /** Each group asked for, by id. */
  groups: Map<number, RunnerGroupLookup>;
  /** Full names of the org's public repositories. */
  publicRepos: string[];
  /** For each found group: the public repositories whose jobs GitHub would route to it. */
  publicReach: Map<number, string[]>;
  /** The latest runner release, or undefined when the downloads list names none (or is missing). */
  latestRunnerVersion: string | undefined;
  /** True when `GET /orgs/{org}/actions/runners/downloads` answered 404: this GitHub has no such list. */
  downloadsMissing?: boolean;
  /** Versions reported by this Mac's connected runners (may be empty). */
  ourRunnerVersions: string[];
  /** The org's default GITHUB_TOKEN permissions, or why they could not be read (403: the credentials lack org administration read). */
  workflowPermissions: { defaultPermissions: string; canApprovePullRequests: boolean } | { unreadable: string };
}

/** What validate needs of the GitHub adapter beyond describeAccess (implemented by GitHubAdapter). */
export interface GitHubFleetProbe {
  describeFleet(groupIds: number[], hostLabel: string): Promise<FleetFacts>;
}

interface ApiRepo {
  full_name: string;
  private?: boolean;
  visibility?: string;
}

interface ApiDownload {
  os: string;
  architecture: string;
  filename: string;
}

interface ApiRunner {
  name: string;
  version?: string | null;
  labels?: Array<{ name: string }>;
}

/** The runner version named by a downloads-list file name, e.g. `actions-runner-osx-arm64-2.337.0.tar.gz`. */
export function versionOfDownload(filename: string): string | undefined {
  return /-(\d+\.\d+\.\d+)\.(?:tar\.gz|zip)$/.exec(filename)?.[1];
}

/** Whether a group admits jobs of public repositories at all (before any repository selection). */
export function admitsPublic(g: RunnerGroupInfo): boolean {
  return g.allowsPublicRepositories && g.visibility !== 'private';
}

export async function describeFleet(deps: { octokit: Octokit; org: string }, groupIds: number[], hostLabel: string): Promise<FleetFacts> {
  const { octokit, org } = deps;
  const groups = new Map<number, RunnerGroupLookup>();
  for (const id of [...new Set(groupIds)]) {
    try {
      const res = await octokit.request('GET /orgs/{org}/actions/runner-groups/{runner_group_id}', { org, runner_group_id: id });
      groups.set(id, { kind: 'found', group: toGroup(res.data as ApiRunnerGroup) });
    } catch (err) {
      const e = err as { status?: number; response?: { data?: { message?: unknown } } };
      if (e.status === 404) groups.set(id, { kind: 'not-found' });
      else if (e.status === 403) groups.set(id, { kind: 'forbidden', message: typeof e.response?.data?.message === 'string' ? e.response.data.message : 'Forbidden' });
      else throw err;
    }
  }

  const repos = (await octokit.paginate('GET /orgs/{org}/repos', { org, type: 'public', per_page: 100 })) as ApiRepo[];
  // `type=public` is the filter; the check on each repo keeps a server that ignores it honest.
  const publicRepos = repos.filter((r) => r.private === false || r.visibility === 'public').map((r) => r.full_name).sort();

  const publicReach = new Map<number, string[]>();
  for (const [id, lookup] of groups) {
    if (lookup.kind !== 'found') continue;
    const g = lookup.group;
    if (!admitsPublic(g) || publicRepos.length === 0) {
      publicReach.set(id, []);
    } else if (g.visibility === 'selected') {
      const selected = (await octokit.paginate('GET /orgs/{org}/actions/runner-groups/{runner_group_id}/repositories', { org, runner_group_id: id, per_page: 100 })) as ApiRepo[];
      const names = new Set(selected.map((r) => r.full_name));
      publicReach.set(id, publicRepos.filter((r) => names.has(r)));
    } else {
      publicReach.set(id, [...publicRepos]);
    }
  }

  // The org was readable just above, so a 404 here is about this endpoint alone (a server without it),
  // not the org: said as such, instead of failing every other fact with it.
  let downloads: ApiDownload[] = [];
  let downloadsMissing = false;
  try {
    downloads = (await octokit.request('GET /orgs/{org}/actions/runners/downloads', { org })).data as ApiDownload[];
  } catch (err) {
    if ((err as { status?: number }).status !== 404) throw err;
    downloadsMissing = true;
  }
  const mac = downloads.find((d) => d.os === 'osx' && d.architecture === 'arm64') ?? downloads[0];
  const latestRunnerVersion = mac ? versionOfDownload(mac.filename) : undefined;

  const runners = (await octokit.paginate('GET /orgs/{org}/actions/runners', { org, per_page: 100 })) as ApiRunner[];
  const ourRunnerVersions = runners
    .filter((r) => r.name.startsWith('tf-') && (r.labels ?? []).some((l) => l.name.toLowerCase() === hostLabel.toLowerCase()))
    .map((r) => r.version)
    .filter((v): v is string => typeof v === 'string' && v !== '');

  let workflowPermissions: FleetFacts['workflowPermissions'];
  try {
    const w = (await octokit.request('GET /orgs/{org}/actions/permissions/workflow', { org })).data as { default_workflow_permissions?: string; can_approve_pull_request_reviews?: boolean };
    workflowPermissions = { defaultPermissions: String(w.default_workflow_permissions ?? 'unknown'), canApprovePullRequests: w.can_approve_pull_request_reviews === true };
  } catch (err) {
    const status = (err as { status?: number }).status;
    if (status !== 403 && status !== 404) throw err;
    workflowPermissions = { unreadable: `${status} ${(err as Error).message.split(' - ')[0]}` };
  }

  return { org, groups, publicRepos, publicReach, latestRunnerVersion, ourRunnerVersions, workflowPermissions, ...(downloadsMissing ? { downloadsMissing } : {}) };
}
