/**
 * JSON shapes of the fake GitHub API: repository, workflow run, job, self-hosted runner and runner
 * group objects with the fields the spec marks required (facts sheet §5, §6), built from the
 * simulated world.
 *
 * ## Gotchas
 * - `created_at` is included on jobs even though the spec's own example omits it (facts §6).
 * - A runner that never connected reports `os: "unknown"`, `version: ""`, `status: "offline"`. The
 *   spec only says `version` "is only set if the runner has connected" and its jitconfig example has
 *   `os: "unknown"`; whether GitHub sends it absent, null or "" is unverified (audit W1), so the fake
 *   sends the reading most likely to fool a client: an empty string.
 * - A runner group (spec schema `runner-groups-org`) has `selected_repositories_url` only when its
 *   visibility is `selected`, and `selected_workflows` is always present (empty when unrestricted).
 */
import type { RunnerView, SimJob, SimRepo, SimRun, SimRunner, SimRunnerGroup, WorldState } from './state.js';

export { RUNNER_VERSION } from './state.js';

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z'));

function owner(login: string, base: string) {
  return {
    login,
    id: 9_000_000 + login.length,
    node_id: `O_${Buffer.from(login).toString('base64')}`,
    type: 'Organization',
    site_admin: false,
    url: `${base}/users/${login}`,
    html_url: `https://github.com/${login}`,
  };
}

export function repoJson(r: SimRepo, base: string) {
  return {
    id: r.id,
    node_id: `R_${r.id}`,
    name: r.name,
    full_name: r.fullName,
    owner: owner(r.owner, base),
    private: r.private,
    html_url: `https://github.com/${r.fullName}`,
    description: null,
    fork: false,
    url: `${base}/repos/${r.fullName}`,
    archived: false,
    disabled: false,
    visibility: r.private ? 'private' : 'public',
    default_branch: 'main',
    created_at: iso(r.createdAt),
    updated_at: iso(r.updatedAt),
    pushed_at: iso(r.pushedAt),
  };
}

export function runJson(world: WorldState, run: SimRun, base: string) {
  const { status, conclusion } = world.runStatus(run);
  const repoUrl = `${base}/repos/${run.repo.fullName}`;
  const sha = (run.id * 2654435761 % 2 ** 32).toString(16).padStart(40, '0');
  return {
    id: run.id,
    name: run.name,
    node_id: `WFR_${run.id}`,
    head_branch: 'main',
    head_sha: sha,
    path: '.github/workflows/ci.yml',
    display_title: `${run.name} #${run.runNumber}`,
    run_number: run.runNumber,
    run_attempt: run.attempt,
    event: run.event,
    status,
    conclusion,
    workflow_id: 1,
    check_suite_id: run.id,
    url: `${repoUrl}/actions/runs/${run.id}`,
    html_url: `https://github.com/${run.repo.fullName}/actions/runs/${run.id}`,
    pull_requests: [],
    created_at: iso(run.createdAt),
    updated_at: iso(run.updatedAt),
    run_started_at: iso(run.startedAt),
    jobs_url: `${repoUrl}/actions/runs/${run.id}/jobs`,
    logs_url: `${repoUrl}/actions/runs/${run.id}/logs`,
    check_suite_url: `${repoUrl}/check-suites/${run.id}`,
    artifacts_url: `${repoUrl}/actions/runs/${run.id}/artifacts`,
    cancel_url: `${repoUrl}/actions/runs/${run.id}/cancel`,
    rerun_url: `${repoUrl}/actions/runs/${run.id}/rerun`,
    workflow_url: `${repoUrl}/actions/workflows/1`,
    head_commit: { id: sha, tree_id: sha, message: 'sim', timestamp: iso(run.createdAt) },
    repository: repoJson(run.repo, base),
    head_repository: repoJson(run.repo, base),
  };
}

export function jobJson(job: SimJob, base: string) {
  const repoUrl = `${base}/repos/${job.repo.fullName}`;
  return {
    id: job.id,
    run_id: job.runId,
    run_url: `${repoUrl}/actions/runs/${job.runId}`,
    run_attempt: 1,
    node_id: `CR_${job.id}`,
    head_sha: (job.runId * 2654435761 % 2 ** 32).toString(16).padStart(40, '0'),
    url: `${repoUrl}/actions/jobs/${job.id}`,
    html_url: `https://github.com/${job.repo.fullName}/actions/runs/${job.runId}/job/${job.id}`,
    status: job.status,
    conclusion: job.conclusion,
    created_at: iso(job.createdAt),
    started_at: iso(job.startedAt ?? job.createdAt),
    completed_at: iso(job.completedAt),
    name: job.name,
    steps: [],
    check_run_url: `${repoUrl}/check-runs/${job.id}`,
    labels: [...job.labels],
    runner_id: job.runnerId,
    runner_name: job.runnerName,
    runner_group_id: job.runnerId === null ? null : 1,
    runner_group_name: job.runnerId === null ? null : 'Default',
    workflow_name: 'CI',
    head_branch: 'main',
  };
}

const DEFAULT_LABELS = new Set(['self-hosted', 'macos', 'linux', 'windows', 'x64', 'arm', 'arm64']);

/** A runner as the list shows it: its true state, or `view` (a lagging list's older picture). */
export function runnerJson(r: SimRunner, view?: RunnerView) {
  const v: RunnerView = view ?? { online: r.sessionId !== null && r.deletedAt === null, busy: r.jobId !== null, everConnected: r.everConnected, version: r.version };
  return {
    id: r.id,
    runner_group_id: r.groupId,
    name: r.name,
    os: v.everConnected ? 'macos' : 'unknown',
    status: v.online ? 'online' : 'offline',
    busy: v.busy,
    ephemeral: true,
    version: v.everConnected ? v.version : '',
    labels: r.labels.map((name, i) => ({
      id: r.id * 1000 + i,
      name,
      type: DEFAULT_LABELS.has(name.toLowerCase()) ? 'read-only' : 'custom',
    })),
  };
}

export function runnerGroupJson(g: SimRunnerGroup, org: string, base: string) {
  const url = `${base}/orgs/${org}/actions/runner-groups/${g.id}`;
  return {
    id: g.id,
    name: g.name,
    visibility: g.visibility,
    default: g.isDefault,
    ...(g.visibility === 'selected' ? { selected_repositories_url: `${url}/repositories` } : {}),
    runners_url: `${url}/runners`,
    hosted_runners_url: `${url}/hosted-runners`,
    inherited: g.inherited,
    allows_public_repositories: g.allowsPublicRepositories,
    restricted_to_workflows: g.restrictedToWorkflows,
    selected_workflows: [...g.selectedWorkflows],
    workflow_restrictions_read_only: false,
  };
}
