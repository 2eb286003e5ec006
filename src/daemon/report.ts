/**
 * What one tick did and saw: the reconciler returns it, the loop reads `ok` and `deletedVms`, and
 * the status publisher turns the rest into the snapshot `ls` reads and the metrics.
 */
import type { Remembered } from '../core/memory.js';
import type { Observed, Plan } from '../core/model.js';
import type { SweepStats } from '../core/ports.js';
import type { JobRecord } from '../adapters/history-file.js';

export interface TickReport {
  tick: number;
  /** False when an observation failed or an action failed. */
  ok: boolean;
  plan: Plan;
  admitted: number;
  deletedVms: number;
  deletedRunners: number;
  failures: TickFailure[];
  github?: SweepStats;
  durationMs: number;
  /** What this tick observed and remembered: with `plan`, everything `ls` and the metrics show. */
  world: Observed;
  memory: Remembered;
  /** Creations that ended since the previous tick's report, for the metrics. */
  creationsEnded: CreationEnded[];
  /** Jobs that ended on this Mac since the previous tick's report (the job history's new records). */
  jobsEnded?: JobRecord[];
}

/**
 * One thing that went wrong in a tick. `source` says where, as a code (`ls` shows unread sources as
 * "degraded" and the rest as failures, without reading the message); `message` is for people.
 */
export interface TickFailure {
  source: 'tart' | 'github' | 'action' | 'cache-copies' | 'run-logs';
  message: string;
}

export interface CreationEnded {
  profile: string;
  /** `claimed-elsewhere` is a 409 on the claim: another Mac has the job. */
  outcome: CreationOutcome;
  /** From admission to the runner started (or to giving up). */
  durationMs: number;
}

/** How a creation ended. */
export type CreationOutcome =
  | 'started'
  | 'job-not-queued'
  | 'claimed-elsewhere'
  | 'gave-up'
  | 'vz-limit'
  | 'failed';
