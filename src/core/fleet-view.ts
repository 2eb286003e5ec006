/**
 * What `ls` shows, built from one observation and its plan: each VM of this host with the job it
 * serves, the RAM ledger, and the queue with the reason each job waits. Pure; `ls` adds the IPs.
 * Used by `ls --live` and by the daemon's status snapshot (src/status/snapshot.ts).
 *
 * ## Gotchas
 * - Every side that could not be read is listed under `problems` (plan() reports only the first),
 *   and `github` is null then: readers must say "unknown", never "no queued jobs".
 * - A JIT runner may serve another job than the one it was made for; the job a VM serves is the one
 *   GitHub shows in progress on its runner, else the job it was claimed for.
 */
import { ramCeilingMb, type Config } from '../config/types.js';
import type { LedgerView, Observed, Plan, QueueEntry } from './model.js';
import type { RequestBudgetStatus } from './ports.js';
import { describeCauses, gaveUp, type Remembered } from './memory.js';
import { claimKey, newestAttemptFirst, ownedByHost, parseClaimKey, parseRunnerName } from './names.js';

export interface VmRow {
  name: string;
  profile: string;
  /** What tart says (running, stopped, …). */
  state: string;
  /** This Mac's creator still owns the VM (cloning, booting, starting the runner). */
  creating: boolean;
  repo: string | null;
  job_id: number;
  age_s: number | null;
  ram_mb: number;
  cpu: number;
  ip: string | null;
  runner: string | null;
  runner_status: string | null;
}

export interface FleetView {
  runner_name: string;
  ledger: LedgerView | null;
  vms: VmRow[];
  /** Null when GitHub could not be read: the queue is unknown, not empty. */
  queue: QueueEntry[] | null;
  creating: Array<{ vm: string; profile: string; job_id: number; age_s: number }>;
  problems: string[];
  /** Jobs this Mac left alone after used-up attempts (kept across restarts, see core/memory.ts). */
  give_ups: Array<{ profile: string; job_id: number; repo: string | null; attempts: number; reason: string; since_s: number }>;
  github: { requests: number; not_modified: number; rate_limit_remaining: number | null; coldest_repo_age_s: number; unswept_repositories: number } | null;
  /** `github.max_requests_per_minute` and any back-off GitHub imposed; null when not kept. */
  github_budget: { per_minute: number; last_minute: number; backoff_until: string | null; backoff_reason: string | null; backoffs: number } | null;
  /** The webhook delivery feed (docs/event-feed.md); absent when none is configured. */
  github_feed?: { source: string; state: string; problem: string | null; last_ok_at: string | null; hints: number; ignored: number; throttled: number; polls: number; requests: number };
}

export function fleetView(observed: Observed, memory: Remembered, plan: Plan, config: Config): FleetView {
  const gh = observed.github.ok ? observed.github.value : undefined;
  const ourRunners = (gh?.runners ?? []).filter((r) => ownedByHost(r, config.github.runner_name));
  const vms: VmRow[] = (observed.tart.ok ? observed.tart.value.ours : []).map((vm) => {
    const runner = newestAttemptFirst(ourRunners.filter((r) => {
      const c = parseRunnerName(r.name);
      return c !== undefined && claimKey(c) === claimKey(vm.claim);
    }))[0];
    const serving = gh?.jobs.find((j) => runner && j.runnerName === runner.name) ?? gh?.jobs.find((j) => j.id === vm.claim.jobId);
    return {
      name: vm.name,
      profile: vm.claim.profile,
      state: vm.state,
      creating: memory.creating.has(claimKey(vm.claim)),
      repo: serving?.repo ?? null,
      job_id: serving?.id ?? vm.claim.jobId,
      age_s: vm.startedAt === undefined ? null : Math.max(0, Math.round((observed.now - vm.startedAt) / 1000)),
      ram_mb: vm.ramMb,
      cpu: vm.cpu,
      ip: null,
      runner: runner?.name ?? null,
      runner_status: runner ? (runner.busy ? 'busy' : runner.everConnected ? runner.status : 'registered') : null,
    };
  });
  const problems = [...plan.blocked];
  // plan() stops at the first side it cannot read (tart); the other side's failure must still show.
  if (!observed.github.ok && !observed.tart.ok) {
    problems.push(`GitHub could not be read (${observed.github.error}): the queue is unknown`);
  }
  if (memory.admissionPausedUntil && observed.now < memory.admissionPausedUntil.until) problems.push(memory.admissionPausedUntil.reason);
  const backoff = observed.githubBudget?.backoffUntil;
  if (backoff && backoff > observed.now) {
    problems.push(`GitHub asked us to slow down (${observed.githubBudget!.backoffReason}): nothing is sent to it for ${Math.ceil((backoff - observed.now) / 1000)} s`);
  }
  const feed = observed.githubFeed;
  if (feed?.state === 'failing') problems.push(`event feed (${feed.source}) failing: ${feed.problem ?? 'unknown'}; new jobs are found by the sweep alone`);
  if (gh && gh.stats.unsweptRepositories > 0) {
    problems.push(`${gh.stats.unsweptRepositories} of ${gh.stats.repositories} repositories not swept yet since the start (cold start within github.max_requests_per_minute): their jobs are not seen yet`);
  }
  const give_ups = [...memory.failures].flatMap(([key, f]) => {
    if (!gaveUp(memory, key, config.vm.max_boot_attempts)) return [];
    const { profile, jobId } = parseClaimKey(key);
    return [{ profile, job_id: jobId, repo: f.repo ?? null, attempts: f.causes.length, reason: describeCauses(f.causes), since_s: Math.max(0, Math.round((observed.now - f.lastAt) / 1000)) }];
  });
  return {
    runner_name: config.github.runner_name,
    ledger: plan.ledger ?? null,
    vms,
    queue: observed.github.ok ? plan.queue : null,
    creating: [...memory.creating.values()].map((c) => ({
      vm: c.vmName, profile: c.claim.profile, job_id: c.claim.jobId, age_s: Math.round((observed.now - c.startedAt) / 1000),
    })),
    problems,
    give_ups,
    github: gh
      ? {
          requests: gh.stats.requests, not_modified: gh.stats.notModified, rate_limit_remaining: gh.stats.rateLimitRemaining,
          coldest_repo_age_s: gh.stats.coldestRepoAgeSeconds, unswept_repositories: gh.stats.unsweptRepositories,
        }
      : null,
    github_budget: budgetView(observed.githubBudget),
    ...(feed ? {
      github_feed: {
        source: feed.source, state: feed.state, problem: feed.problem, last_ok_at: feed.lastOkAt === null ? null : new Date(feed.lastOkAt).toISOString(),
        hints: feed.hints, ignored: feed.ignored, throttled: feed.throttled, polls: feed.polls, requests: feed.requests,
      },
    } : {}),
  };
}

/** What `ls` prints: a fleet view whose ledger is never null (see withConfigLedger). */
export type LsView = Omit<FleetView, 'ledger'> & {
  ledger: { used_mb: number | null; ceiling_mb: number; vms: number | null; max_vms: number; foreign_mb: number | null };
};

/** The ceiling and the VM cap come from the config, so they are known even when tart is not. */
export function withConfigLedger(view: FleetView, config: Config): LsView {
  const ledger = view.ledger ?? { used_mb: null, ceiling_mb: ramCeilingMb(config.host), vms: null, max_vms: config.host.max_vms, foreign_mb: null };
  return { ...view, ledger };
}

function budgetView(b: RequestBudgetStatus | undefined): FleetView['github_budget'] {
  if (!b) return null;
  return {
    per_minute: b.perMinute,
    last_minute: b.lastMinute,
    backoff_until: b.backoffUntil === null ? null : new Date(b.backoffUntil).toISOString(),
    backoff_reason: b.backoffReason,
    backoffs: b.backoffs,
  };
}
