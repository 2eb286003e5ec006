/**
 * The simulated GitHub world: repositories, workflow runs, jobs, self-hosted runners, runner groups,
 * and the records tests assert on (job histories, every runner ever created). Pure data plus the
 * rules that keep it consistent (run status derived from its jobs, oldest-first job assignment that
 * respects runner-group access); no HTTP here.
 *
 * ## Gotchas
 * - A run's status is derived from its jobs on every read, so a run whose first job runs while a later
 *   one is queued is `in_progress` and still holds demand (facts sheet §6). A run with any job
 *   `waiting` for environment approval is `waiting`, even while other jobs of it are queued or
 *   running, as GitHub shows it (audit B1, ARC #2723; the real precedence over `in_progress` is
 *   unverified, so the fake takes the strictest reading).
 * - Assignment is GitHub's, not tart-fleet's: an idle runner with an open session gets the **oldest**
 *   queued job whose labels it has (case-insensitive subset, facts §9), not the job it was made for.
 *   `waiting` jobs (environment approval) are never assigned.
 * - A runner only gets jobs its runner group admits, as on GitHub: `selected` visibility admits the
 *   listed repositories, `private` only private ones, `allows_public_repositories: false` (GitHub's
 *   default, also for the Default group) no public ones, `restricted_to_workflows` only the listed
 *   workflows. Simulated repositories are private unless made public, so the default admits all.
 * - Times come from the injected clock, so tests can control `created_at`.
 * - A runner told to update (it reported a version older than `latestRunnerVersion`) gets no job
 *   until it reconnects with the new version, as the real service skips job messages while an update
 *   is in progress (actions/runner `Runner.cs`, audit B2).
 * - The runner list can lag (`runnerListLagMs`, default 0): GitHub's runner lists may be up to 60 s
 *   old (ARC's `runner_graceful_stop.go` comment; actions/runner #3448, audit L3). Every change a list
 *   would show is recorded per runner (`views`), and a lagging list shows each runner as it was
 *   `runnerListLagMs` ago: not yet listed, still online, still busy, or still there after deletion.
 *   Assignment, deletion and the broker always act on the true state.
 * - `pushed_at` moves only for `push` events; `issue_comment`, `workflow_dispatch`, `schedule`,
 *   `pull_request` from a fork and the like leave it alone (audit L2). `pushed_at` is shown with
 *   whole seconds (shapes.ts), as GitHub's ISO 8601 timestamps are.
 * - A re-run ("Re-run failed jobs", `rerunJob`) queues the job again in its run: the run keeps its id
 *   and `created_at` (so its place in the newest-first runs list), its `run_attempt` goes up and
 *   `run_started_at` moves (Team-Commonly/commonly PR #1216 shows a real payload; audit N6).
 * - Every job status change records a `workflow_job` delivery (action `queued`, `waiting`,
 *   `in_progress`, `completed`) for each subscribed hook (hooks.ts), with the payload's `workflow_job`
 *   and `repository`, as GitHub sends it (docs: webhook-events-and-payloads#workflow_job).
 */

import { HookLog } from './hooks.js';

/** The runner version the image pins (images/scripts/30-actions-runner.sh); the fake's default latest. */
export const RUNNER_VERSION = '2.336.0';

/** Whether runner version `a` is older than `b` (dotted numbers, e.g. 2.336.0 < 2.337.0). */
export function versionOlder(a: string, b: string): boolean {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? 0;
    const y = pb[i] ?? 0;
    if (x !== y) return x < y;
  }
  return false;
}

export type SimJobStatus = 'queued' | 'in_progress' | 'completed' | 'waiting' | 'requested' | 'pending';
export type SimConclusion = 'success' | 'failure' | 'cancelled' | null;

export interface SimRepo {
  id: number;
  name: string;
  owner: string;
  fullName: string;
  private: boolean;
  createdAt: number;
  pushedAt: number;
  updatedAt: number;
}

export interface SimRun {
  id: number;
  repo: SimRepo;
  name: string;
  runNumber: number;
  createdAt: number;
  updatedAt: number;
  cancelled: boolean;
  jobIds: number[];
  /** The triggering event, as the run's `event` field shows it. */
  event: string;
  /** 1, then one more for each re-run. */
  attempt: number;
  /** When the latest attempt started (`run_started_at`). */
  startedAt: number;
}

export interface JobEvent {
  at: number;
  status: SimJobStatus;
  runnerId?: number;
  runnerName?: string;
  conclusion?: SimConclusion;
}

export interface SimJob {
  id: number;
  runId: number;
  repo: SimRepo;
  name: string;
  labels: string[];
  status: SimJobStatus;
  conclusion: SimConclusion;
  durationMs: number;
  createdAt: number;
  startedAt: number | null;
  completedAt: number | null;
  runnerId: number | null;
  runnerName: string | null;
  /** queued → in_progress on runner X → completed with result. */
  history: JobEvent[];
}

export interface SimRunner {
  id: number;
  name: string;
  labels: string[];
  groupId: number;
  createdAt: number;
  deletedAt: number | null;
  /** Why it went away: deleted through the API, or removed after its one job (ephemeral). */
  deletedBy: 'api' | 'ephemeral' | null;
  /** The `.credentials` secret the broker accepts from this runner. */
  secret: string;
  sessionId: string | null;
  everConnected: boolean;
  /** The job assigned to it (in progress), if any. */
  jobId: number | null;
  /** Whether the assigned job was already handed out by the broker's message endpoint. */
  jobDelivered: boolean;
  /** The runner version it reported when it last opened a session ('' before it ever connected). */
  version: string;
  /** Told to update itself (its version is older than the latest): no jobs until it reconnects updated. */
  updating: boolean;
  /** What the runner list showed over time, for the list's lag (see `runnersAsListed`). */
  views: Array<{ at: number; view: RunnerView | null }>;
}

/** What GitHub's runner list shows of a runner at one moment (null: not listed, i.e. deleted). */
export interface RunnerView {
  online: boolean;
  busy: boolean;
  everConnected: boolean;
  version: string;
}

export type RunnerGroupVisibility = 'all' | 'selected' | 'private';

/** An organisation runner group (GET /orgs/{org}/actions/runner-groups/{id}). */
export interface SimRunnerGroup {
  id: number;
  name: string;
  visibility: RunnerGroupVisibility;
  /** The org's Default group (id 1). */
  isDefault: boolean;
  /** Shared into the org by an enterprise. */
  inherited: boolean;
  allowsPublicRepositories: boolean;
  restrictedToWorkflows: boolean;
  /** `owner/repo/.github/workflows/file.yml@refs/heads/main` entries (only with restrictedToWorkflows). */
  selectedWorkflows: string[];
  /** Full names of the repositories that may use it (only with visibility `selected`). */
  selectedRepositories: string[];
}

export type RunnerGroupInit = { id: number } & Partial<Omit<SimRunnerGroup, 'id'>>;

/** A read-only record of a runner for end-to-end assertions. */
export interface RunnerRecord {
  id: number;
  name: string;
  labels: string[];
  createdAt: number;
  deletedAt: number | null;
  deletedBy: 'api' | 'ephemeral' | null;
  everConnected: boolean;
  jobId: number | null;
}

export interface QueueJobRequest {
  /** `owner/name` or just `name` (the org is the owner). Created if missing. */
  repo: string;
  labels: string[];
  name?: string;
  /** How long the simulated runner should pretend to work (handed to it by the broker). */
  durationMs?: number;
  /** `queued` (default) or e.g. `waiting` (environment approval: never demand, never assigned). */
  status?: SimJobStatus;
  /** Add the job to an existing run instead of creating a new one. */
  runId?: number;
  /** Override `created_at` (epoch ms); defaults to the clock. */
  createdAt?: number;
  /**
   * The event that triggered the run (default `push`). Only `push` moves the repo's `pushed_at`;
   * e.g. `issue_comment`, `workflow_dispatch`, `schedule` or `pull_request` (from a fork) do not.
   */
  event?: string;
}

export function labelsMatch(jobLabels: string[], runnerLabels: string[]): boolean {
  const have = new Set(runnerLabels.map((l) => l.toLowerCase()));
  return jobLabels.every((l) => have.has(l.toLowerCase()));
}

export class WorldState {
  readonly repos = new Map<string, SimRepo>();
  readonly runs = new Map<number, SimRun>();
  readonly jobs = new Map<number, SimJob>();
  readonly runners = new Map<number, SimRunner>();
  readonly runnerGroups = new Map<number, SimRunnerGroup>();
  /**
   * The org's Actions workflow permissions (GET /orgs/{org}/actions/permissions/workflow): GitHub's
   * default for new organisations is a read-only GITHUB_TOKEN and no PR approvals by Actions.
   */
  workflowPermissions: { defaultWorkflowPermissions: 'read' | 'write'; canApprovePullRequestReviews: boolean } = { defaultWorkflowPermissions: 'read', canApprovePullRequestReviews: false };
  private nextRepoId = 1;
  private nextRunId = 100_001;
  private nextJobId = 500_001;
  private nextRunnerId = 1;
  private runNumbers = new Map<string, number>();
  /** How stale the runner list is (see the header); 0 = exact. */
  runnerListLagMs = 0;
  /** The newest runner release (GET /orgs/{org}/actions/runners/downloads); older runners update on connect. */
  latestRunnerVersion = RUNNER_VERSION;
  /** Org and App webhooks and their delivery log (hooks.ts). */
  readonly hooks: HookLog;

  constructor(
    readonly org: string,
    readonly now: () => number,
  ) {
    this.hooks = new HookLog(now);
  }

  fullName(repo: string): string {
    return repo.includes('/') ? repo : `${this.org}/${repo}`;
  }

  addRepo(repo: string, opts: { private?: boolean; pushedAt?: number } = {}): SimRepo {
    const fullName = this.fullName(repo);
    const existing = this.repos.get(fullName);
    if (existing) return existing;
    const [owner, name] = fullName.split('/') as [string, string];
    const t = this.now();
    const r: SimRepo = {
      id: this.nextRepoId++,
      name,
      owner,
      fullName,
      private: opts.private ?? true,
      createdAt: t,
      pushedAt: opts.pushedAt ?? t,
      updatedAt: t,
    };
    this.repos.set(fullName, r);
    return r;
  }

  /** Adds (or replaces) a runner group; unset fields take GitHub's defaults for a new group. */
  addRunnerGroup(init: RunnerGroupInit): SimRunnerGroup {
    const group: SimRunnerGroup = {
      name: init.id === 1 ? 'Default' : `group-${init.id}`,
      visibility: 'all',
      isDefault: init.id === 1,
      inherited: false,
      allowsPublicRepositories: false,
      restrictedToWorkflows: false,
      selectedWorkflows: [],
      selectedRepositories: [],
      ...init,
    };
    group.selectedRepositories = group.selectedRepositories.map((r) => this.fullName(r));
    this.runnerGroups.set(group.id, group);
    return group;
  }

  /** Whether a runner of `group` may take `job` (see the header). A runner in no known group takes any. */
  groupAdmits(group: SimRunnerGroup | undefined, job: SimJob): boolean {
    if (!group) return true;
    const repo = job.repo;
    if (group.visibility === 'selected' && !group.selectedRepositories.includes(repo.fullName)) return false;
    if (!repo.private && (group.visibility === 'private' || !group.allowsPublicRepositories)) return false;
    if (group.restrictedToWorkflows) {
      // The simulated runs all come from .github/workflows/ci.yml on main (shapes.ts).
      const workflow = `${repo.fullName}/.github/workflows/ci.yml`;
      if (!group.selectedWorkflows.some((w) => w === workflow || w === `${workflow}@refs/heads/main`)) return false;
    }
    return true;
  }

  queueJob(req: QueueJobRequest): SimJob {
    const t = req.createdAt ?? this.now();
    let run: SimRun;
    if (req.runId !== undefined) {
      const found = this.runs.get(req.runId);
      if (!found) throw new Error(`no run ${req.runId}`);
      run = found;
    } else {
      const repo = this.addRepo(req.repo);
      const event = req.event ?? 'push';
      if (event === 'push') {
        // A push triggered the workflow: the repo was pushed just now. Other events push nothing.
        repo.pushedAt = Math.max(repo.pushedAt, t);
        repo.updatedAt = repo.pushedAt;
      }
      const runNumber = (this.runNumbers.get(repo.fullName) ?? 0) + 1;
      this.runNumbers.set(repo.fullName, runNumber);
      run = { id: this.nextRunId++, repo, name: 'CI', runNumber, createdAt: t, updatedAt: t, cancelled: false, jobIds: [], event, attempt: 1, startedAt: t };
      this.runs.set(run.id, run);
    }
    const status = req.status ?? 'queued';
    const job: SimJob = {
      id: this.nextJobId++,
      runId: run.id,
      repo: run.repo,
      name: req.name ?? `job-${this.nextJobId - 1}`,
      labels: [...req.labels],
      status,
      conclusion: null,
      durationMs: req.durationMs ?? 1000,
      createdAt: t,
      startedAt: null,
      completedAt: null,
      runnerId: null,
      runnerName: null,
      history: [{ at: t, status }],
    };
    run.jobIds.push(job.id);
    run.updatedAt = t;
    this.jobs.set(job.id, job);
    this.jobEvent(job);
    return job;
  }

  /** The `workflow_job` delivery for a job's current status (see the header). */
  private jobEvent(job: SimJob): void {
    const r = job.repo;
    this.hooks.emit({
      event: 'workflow_job',
      action: job.status,
      repositoryId: r.id,
      payload: {
        action: job.status,
        workflow_job: {
          id: job.id,
          run_id: job.runId,
          run_attempt: this.runs.get(job.runId)?.attempt ?? 1,
          name: job.name,
          status: job.status,
          conclusion: job.conclusion,
          labels: [...job.labels],
          runner_name: job.runnerName,
        },
        repository: { id: r.id, name: r.name, full_name: r.fullName, private: r.private, owner: { login: r.owner } },
        organization: { login: this.org },
        ...(this.hooks.installationId !== null ? { installation: { id: this.hooks.installationId } } : {}),
      },
    });
  }

  /**
   * "Re-run failed jobs": the job is queued again in its run, which keeps its id and `created_at`
   * (see the header). Returns the job.
   */
  rerunJob(jobId: number): SimJob {
    const job = this.mustJob(jobId);
    if (job.status !== 'completed') throw new Error(`job ${jobId} is ${job.status}; only a completed job can be re-run`);
    const run = this.runs.get(job.runId)!;
    run.attempt += 1;
    run.startedAt = this.now();
    run.cancelled = false;
    job.conclusion = null;
    job.completedAt = null;
    job.startedAt = null;
    job.runnerId = null;
    job.runnerName = null;
    this.setJobStatus(job, 'queued');
    return job;
  }

  /** A run's status, derived from its jobs (see header). */
  runStatus(run: SimRun): { status: string; conclusion: string | null } {
    const jobs = run.jobIds.map((id) => this.jobs.get(id)!);
    const done = jobs.filter((j) => j.status === 'completed');
    if (jobs.length > 0 && done.length === jobs.length) {
      const conclusion = run.cancelled || done.some((j) => j.conclusion === 'cancelled')
        ? 'cancelled'
        : done.some((j) => j.conclusion === 'failure') ? 'failure' : 'success';
      return { status: 'completed', conclusion };
    }
    if (jobs.some((j) => j.status === 'waiting')) return { status: 'waiting', conclusion: null };
    if (jobs.some((j) => j.status === 'in_progress') || done.length > 0) return { status: 'in_progress', conclusion: null };
    if (jobs.some((j) => j.status === 'queued')) return { status: 'queued', conclusion: null };
    return { status: jobs[0]?.status ?? 'queued', conclusion: null };
  }

  setJobStatus(job: SimJob, status: SimJobStatus, extra: Omit<JobEvent, 'at' | 'status'> = {}): void {
    const t = this.now();
    job.status = status;
    job.history.push({ at: t, status, ...extra });
    const run = this.runs.get(job.runId);
    if (run) run.updatedAt = t;
    this.jobEvent(job);
  }

  /** Environment approved: a `waiting` job becomes `queued`. */
  approveJob(jobId: number): void {
    const job = this.mustJob(jobId);
    if (job.status === 'waiting') this.setJobStatus(job, 'queued');
  }

  /** Cancels a run: its queued and waiting jobs go `completed`/`cancelled`. Running jobs keep running. */
  cancelRun(runId: number): void {
    const run = this.runs.get(runId);
    if (!run) throw new Error(`no run ${runId}`);
    run.cancelled = true;
    for (const id of run.jobIds) {
      const job = this.jobs.get(id)!;
      if (job.status === 'queued' || job.status === 'waiting' || job.status === 'pending' || job.status === 'requested') {
        job.conclusion = 'cancelled';
        job.completedAt = this.now();
        this.setJobStatus(job, 'completed', { conclusion: 'cancelled' });
      }
    }
  }

  createRunner(name: string, labels: string[], groupId: number, secret: string): SimRunner {
    const r: SimRunner = {
      id: this.nextRunnerId++,
      name,
      labels: [...labels],
      groupId,
      createdAt: this.now(),
      deletedAt: null,
      deletedBy: null,
      secret,
      sessionId: null,
      everConnected: false,
      jobId: null,
      jobDelivered: false,
      version: '',
      updating: false,
      views: [],
    };
    this.runners.set(r.id, r);
    this.observe(r);
    return r;
  }

  /** Records what the runner list shows of `r` now; call after every change it would show. */
  observe(r: SimRunner): void {
    const view: RunnerView | null = r.deletedAt !== null
      ? null
      : { online: r.sessionId !== null, busy: r.jobId !== null, everConnected: r.everConnected, version: r.version };
    const last = r.views[r.views.length - 1];
    if (last && JSON.stringify(last.view) === JSON.stringify(view)) return;
    r.views.push({ at: this.now(), view });
  }

  /** The runners the list shows now, each with its view: the true state, or `runnerListLagMs` ago. */
  runnersAsListed(): Array<{ runner: SimRunner; view: RunnerView }> {
    const at = this.now() - this.runnerListLagMs;
    const out: Array<{ runner: SimRunner; view: RunnerView }> = [];
    for (const runner of this.runners.values()) {
      let view: RunnerView | null = null;
      for (const v of runner.views) {
        if (v.at > at) break;
        view = v.view;
      }
      if (view) out.push({ runner, view });
    }
    return out.sort((a, b) => a.runner.id - b.runner.id);
  }

  liveRunners(): SimRunner[] {
    return [...this.runners.values()].filter((r) => r.deletedAt === null);
  }

  runnerByName(name: string): SimRunner | undefined {
    return this.liveRunners().find((r) => r.name === name);
  }

  removeRunner(r: SimRunner, by: 'api' | 'ephemeral'): void {
    r.deletedAt = this.now();
    r.deletedBy = by;
    r.sessionId = null;
    this.observe(r);
  }

  completeJob(jobId: number, conclusion: 'success' | 'failure' | 'cancelled'): SimJob {
    const job = this.mustJob(jobId);
    job.conclusion = conclusion;
    job.completedAt = this.now();
    this.setJobStatus(job, 'completed', {
      conclusion,
      ...(job.runnerId !== null ? { runnerId: job.runnerId } : {}),
      ...(job.runnerName !== null ? { runnerName: job.runnerName } : {}),
    });
    if (job.runnerId !== null) {
      const runner = this.runners.get(job.runnerId);
      // JIT runners are ephemeral: they do one job and GitHub removes them.
      if (runner && runner.deletedAt === null) {
        runner.jobId = null;
        this.removeRunner(runner, 'ephemeral');
      }
    }
    return job;
  }

  /**
   * GitHub's assignment: each idle runner with an open session, in creation order, takes the oldest
   * queued job whose labels it has. Returns the runners that got a job.
   */
  assign(): SimRunner[] {
    const assigned: SimRunner[] = [];
    const queued = [...this.jobs.values()]
      .filter((j) => j.status === 'queued')
      .sort((a, b) => a.createdAt - b.createdAt || a.id - b.id);
    for (const runner of this.liveRunners()) {
      if (runner.sessionId === null || runner.jobId !== null || runner.updating) continue;
      const group = this.runnerGroups.get(runner.groupId);
      const idx = queued.findIndex((j) => labelsMatch(j.labels, runner.labels) && this.groupAdmits(group, j));
      if (idx < 0) continue;
      const job = queued.splice(idx, 1)[0]!;
      job.runnerId = runner.id;
      job.runnerName = runner.name;
      job.startedAt = this.now();
      this.setJobStatus(job, 'in_progress', { runnerId: runner.id, runnerName: runner.name });
      runner.jobId = job.id;
      runner.jobDelivered = false;
      this.observe(runner);
      assigned.push(runner);
    }
    return assigned;
  }

  mustJob(jobId: number): SimJob {
    const job = this.jobs.get(jobId);
    if (!job) throw new Error(`no job ${jobId}`);
    return job;
  }

  runnerRecords(): RunnerRecord[] {
    return [...this.runners.values()].map((r) => ({
      id: r.id,
      name: r.name,
      labels: [...r.labels],
      createdAt: r.createdAt,
      deletedAt: r.deletedAt,
      deletedBy: r.deletedBy,
      everConnected: r.everConnected,
      jobId: [...this.jobs.values()].find((j) => j.runnerId === r.id)?.id ?? null,
    }));
  }
}
