/**
 * What every policy of one plan shares: the context (world, memory, config, the time) and the small
 * lookups the lifecycle half and the admission half both need. Pure, like the planner.
 */
import type { Config } from '../config/types.js';
import type { Job, Runner } from './ports.js';
import { ownedByHost, parseRunnerName } from './names.js';
import { profileForLabels } from './match.js';
import type { Remembered } from './memory.js';
import type { GitHubObservation, Observed, QueueEntry } from './model.js';

/** What every step of one plan needs to know. */
export interface PlanContext {
  world: Observed;
  memory: Remembered;
  config: Config;
  now: number;
  host: string;
}

export interface JobIndex {
  byId: Map<number, Job>;
  /** Profiles with at least one queued job. */
  queuedProfiles: Set<string>;
  /** Some repositories were never swept yet (a cold start): a missing job proves nothing. */
  incomplete: boolean;
}

/** Built once per plan: the lookups below would otherwise be jobs × claims. */
export function indexJobs(gh: GitHubObservation, config: Config, host: string): JobIndex {
  const byId = new Map(gh.jobs.map((j) => [j.id, j]));
  const queuedProfiles = new Set<string>();
  for (const j of gh.jobs) {
    const p = j.status === 'queued' ? profileForLabels(j.labels, config.profiles, host) : undefined;
    if (p) queuedProfiles.add(p.name);
  }
  return { byId, queuedProfiles, incomplete: gh.stats.unsweptRepositories > 0 };
}

/** A runner this Mac made: a claim name with its `tf-host-` label. */
export function isOurs(r: Runner, config: Config): boolean {
  return parseRunnerName(r.name) !== undefined && ownedByHost(r, config.github.runner_name);
}

/**
 * How long a runner that was online may be offline before it counts as lost. A runner older than
 * GitHub's latest updates itself on every boot (download, exit, restart: ~10–30 s offline), and
 * GitHub's runner list can lag by up to a minute.
 */
export const RUNNER_RESTART_GRACE_MS = 120_000;

/** Connected once, offline now, for less than the restart grace (see RUNNER_RESTART_GRACE_MS). */
export function restarting(runner: Runner, ctx: PlanContext): boolean {
  const lastOnline = ctx.memory.runnerLastOnline.get(runner.name) ?? ctx.memory.runnerFirstSeen.get(runner.name) ?? ctx.now;
  return runner.everConnected && runner.status === 'offline' && ctx.now - lastOnline < RUNNER_RESTART_GRACE_MS;
}

/** Oldest job first (ties by id): the order of admission. */
export function byAge(a: Job, b: Job): number {
  return a.createdAt - b.createdAt || a.id - b.id;
}

export function waitedSeconds(job: Job, now: number): number {
  return Math.max(0, Math.round((now - job.createdAt) / 1000));
}

/** A queue line: the job and why it still waits. */
export function entry(job: Job, profile: string | null, now: number, reason: string): QueueEntry {
  return { repo: job.repo, job_id: job.id, name: job.name, profile, labels: job.labels, waiting_s: waitedSeconds(job, now), reason };
}
