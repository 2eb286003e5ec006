/**
 * The GitHub access lines of `validate`: whether the token may create runners (a GitHub App's
 * installation permissions, a classic PAT's scopes, or a warning that a fine-grained PAT cannot be
 * judged), and whether `github.runner_group_id` exists and will be given the org's jobs. The
 * observation is github-access.ts's; this module only judges it and words the lines.
 *
 * ## Gotchas
 * - Write access is never proven by acting: creating a runner would be the only proof, and validate
 *   changes nothing. An App's permissions and a classic PAT's scopes are read from GitHub's answers.
 * - A runner group that does not admit a repository's jobs fails nothing visibly: tart-fleet claims
 *   such a job and boots VMs whose runners never get it, two of them (plan.ts MAX_UNUSED_RUNNERS)
 *   before it leaves the job alone. Hence the warnings, before any VM is spent.
 * - A group refusing public repositories is GitHub's default and the safe one for trusted profiles: it
 *   is not warned about here (it used to be, #16). Public repositories, trust tiers, runner names and
 *   the runner version are github-fleet-checks.ts's.
 * - No line carries a token: only permission names, scopes, group names and GitHub's own messages.
 */
import type { GitHubAccess, GitHubAccessProbe, TokenAccess } from '../adapters/github-access.js';
import type { CheckResult } from './checks.js';

/** App / fine-grained permissions the daemon uses, and where an App's owner sets each. */
const APP_NEEDS = [
  {
    permission: 'organization_self_hosted_runners',
    level: 'write',
    why: 'tart-fleet cannot create or delete JIT runners',
    where: 'Organization permissions → Self-hosted runners: Read and write',
  },
  {
    permission: 'actions',
    level: 'read',
    why: 'tart-fleet cannot see queued jobs',
    where: 'Repository permissions → Actions: Read-only',
  },
] as const;

const LEVEL_RANK: Record<string, number> = { read: 1, write: 2, admin: 3 };

export async function githubAccessChecks(probe: GitHubAccessProbe, runnerGroupId: number, opts: { githubFailed: boolean }): Promise<CheckResult[]> {
  let access: GitHubAccess;
  try {
    access = await probe.describeAccess(runnerGroupId);
  } catch (err) {
    // Bad credentials or an outage: already reported on the `github` line, one line is enough.
    return opts.githubFailed ? [] : [{ status: 'fail', what: 'github token', detail: (err as Error).message }];
  }
  // With the org unreadable (the `github` line), a missing runner group would be a second, wrong
  // diagnosis of the same cause: only what the token is (its headers hold even on a 404) is said.
  return [...tokenChecks(access.token), ...(opts.githubFailed ? [] : runnerGroupChecks(access))];
}

export function tokenChecks(token: TokenAccess): CheckResult[] {
  const what = 'github token';
  if (token.kind === 'app') {
    const missing = APP_NEEDS.filter((n) => (LEVEL_RANK[token.permissions[n.permission] ?? ''] ?? 0) < LEVEL_RANK[n.level]!);
    if (missing.length === 0) {
      const held = APP_NEEDS.map((n) => `${n.permission}: ${token.permissions[n.permission]}`).join(', ');
      const repos = token.repositorySelection === 'selected' ? 'installed on selected repositories only: jobs of the others are not seen' : 'installed on all repositories';
      return [{ status: 'ok', what, detail: `GitHub App installation token with ${held} (${repos})` }];
    }
    return missing.map((n) => ({
      status: 'fail' as const,
      what,
      detail: `the GitHub App installation lacks ${n.permission}: ${n.level} (has ${token.permissions[n.permission] ?? 'none'}), so ${n.why}; in the App's settings → Permissions & events set ${n.where}, then accept the new permissions on the org's installation`,
    }));
  }
  if (token.kind === 'classic') {
    const has = token.scopes.length > 0 ? token.scopes.join(', ') : 'no scopes';
    const out: CheckResult[] = [];
    if (!token.scopes.includes('admin:org')) {
      const hint = token.scopes.includes('manage_runners:org') ? ' (manage_runners:org is documented for GitHub-hosted runners only)' : '';
      out.push({
        status: 'fail',
        what,
        detail: `classic PAT lacks the admin:org scope (has: ${has})${hint}, so tart-fleet cannot create JIT runners; make a token with admin:org (and repo for private repositories) under Settings → Developer settings → Personal access tokens (classic), or use a GitHub App`,
      });
    }
    if (!token.scopes.includes('repo')) {
      out.push({
        status: 'warn',
        what,
        detail: `classic PAT lacks the repo scope (has: ${has}): jobs of private repositories are not visible to it and it cannot create runners for them; add repo unless every repository is public`,
      });
    }
    if (out.length === 0) out.push({ status: 'ok', what, detail: `classic PAT with admin:org and repo (scopes: ${has})` });
    return out;
  }
  return [{
    status: 'warn',
    what,
    detail: 'GitHub sent no x-oauth-scopes header, so this is a fine-grained PAT (or an installation token used as a PAT): cannot verify write permission without creating a runner; the token needs Organization → Self-hosted runners: Read and write, and Repository → Actions: Read-only',
  }];
}

export function runnerGroupChecks(access: GitHubAccess): CheckResult[] {
  const what = 'runner group';
  const { org, runnerGroupId: id, runnerGroup: lookup } = access;
  if (lookup.kind === 'not-found') {
    return [{
      status: 'fail',
      what,
      detail: `runner group ${id} not found in org ${org}; list them with GET /orgs/${org}/actions/runner-groups (or Settings → Actions → Runner groups) and set github.runner_group_id (1 is the Default group)`,
    }];
  }
  if (lookup.kind === 'forbidden') {
    return [{
      status: 'fail',
      what,
      detail: `cannot read runner group ${id} of org ${org} (403 ${lookup.message}): reading it needs the same access as the runners (see the github token line)`,
    }];
  }
  const g = lookup.group;
  const label = `"${g.name}" (id ${g.id})`;
  const notes = [`visibility ${g.visibility}`, ...(g.isDefault ? ["the org's default group"] : []), ...(g.inherited ? ['inherited from the enterprise'] : [])];
  const out: CheckResult[] = [{ status: 'ok', what, detail: `${label}: ${notes.join(', ')}` }];
  const stranded = 'tart-fleet would boot two VMs for each such job before leaving it alone';
  if (g.visibility === 'selected') {
    out.push({ status: 'warn', what, detail: `${label} has visibility selected: only the repositories selected for it can use these runners; jobs of the others will not be routed here (${stranded})` });
  }
  // Whether public repositories may use it is judged per profile and trust tier (github-fleet-checks.ts).
  if (g.restrictedToWorkflows) {
    out.push({ status: 'warn', what, detail: `${label} is restricted to ${g.selectedWorkflows.length} selected workflow(s): jobs of other workflows will not be routed here (${stranded})` });
  }
  return out;
}
