/**
 * What this host remembers between ticks, as the planner sees it: an immutable snapshot that
 * `HostMemory` (host-memory.ts, the only writer) hands to `plan(world, memory, config)` beside what
 * was observed this tick.
 *
 * Level-triggered design keeps this small: the world (GitHub, tart) is re-read every tick, and
 * memory holds only what the world cannot tell us —
 * - the creations this process is carrying out right now;
 * - how many times a job's VM was removed before the job ran (the bounded give-up), persisted so a
 *   restart does not start counting again;
 * - when a runner or VM was first seen (GitHub does not say when a runner was created, and a VM's
 *   run log can be deleted), and when a runner was last seen online (self-update grace);
 * - a host-wide pause after tart reported the VZ limit.
 *
 * ## Gotchas
 * - `creating` is snapshotted *before* the observation starts, so a creation that finishes while we
 *   observe still counts as creating: its fresh runner is never mistaken for a leftover.
 * - First-seen times restart with the process: after a restart another Mac's claim, or a VM with no
 *   readable start time, is trusted for one more full window. That is bounded, and it fails towards
 *   keeping things (never deleting on a guess).
 */
import type { Claim } from './names.js';

/** A creation this process is carrying out right now (claim → clone → boot → start runner). */
export interface Creating {
  claim: Claim;
  vmName: string;
  runnerName: string;
  repo: string;
  /** Profile RAM reserved for it until its VM shows up in `tart list`. */
  ramMb: number;
  os: 'macos' | 'linux';
  startedAt: number;
}

/** Why a job's VM was removed before its job ran. Each counts toward the job's one bounded give-up. */
export type FailureCause = 'boot-failed' | 'runner-unused' | 'runner-lost' | 'vz-limit';

export interface FailedAttempts {
  /** One per failure, oldest first (their number is the count of failed attempts). */
  causes: FailureCause[];
  repo?: string;
  /** Epoch ms of the latest failure. */
  lastAt: number;
}

export interface Remembered {
  /**
   * When this daemon process started. A VM started before it whose runner has not connected can
   * only have been mid-creation in a process that died; after a short grace it is past booting.
   */
  processStartedAt: number;
  /** Keyed by claimKey (profile-jobId). */
  creating: ReadonlyMap<string, Creating>;
  /** Keyed by claimKey. At `vm.max_boot_attempts` the job is left alone (see plan.ts). */
  failures: ReadonlyMap<string, FailedAttempts>;
  /** Runner name → epoch ms this process first saw it in GitHub's list. */
  runnerFirstSeen: ReadonlyMap<string, number>;
  /** Runner name → epoch ms it was last seen online (or busy). */
  runnerLastOnline: ReadonlyMap<string, number>;
  /** VM name → epoch ms this process first saw it in `tart list`. */
  vmFirstSeen: ReadonlyMap<string, number>;
  /** Set while tart reports the VZ limit: no new VMs until this time (epoch ms). */
  admissionPausedUntil?: { until: number; reason: string };
}

/**
 * The give-up rule, decided here and nowhere else: a job whose VMs were removed `vm.max_boot_attempts`
 * times before it ran is left alone by this Mac (the planner, the creator, `ls` and the log all ask).
 */
export function attemptsUsedUp(causes: readonly FailureCause[], maxAttempts: number): boolean {
  return causes.length >= maxAttempts;
}

/** Whether the latest failure is the one that used the attempts up (the give-up is logged once). */
export function lastFailureGaveUp(causes: readonly FailureCause[], maxAttempts: number): boolean {
  return attemptsUsedUp(causes, maxAttempts) && !attemptsUsedUp(causes.slice(0, -1), maxAttempts);
}

/** A job's failed attempts when it has used them up on this host, else undefined. */
export function gaveUp(memory: Remembered, key: string, maxAttempts: number): FailedAttempts | undefined {
  const f = memory.failures.get(key);
  return f && attemptsUsedUp(f.causes, maxAttempts) ? f : undefined;
}

const CAUSE_TEXT: Record<FailureCause, string> = {
  'boot-failed': 'boot failed',
  'runner-unused': 'runner got no job',
  'runner-lost': 'runner lost',
  'vz-limit': 'VZ limit',
};

/** `2× boot failed, 1× runner got no job`: for `ls` and logs. */
export function describeCauses(causes: readonly FailureCause[]): string {
  const counts = new Map<FailureCause, number>();
  for (const c of causes) counts.set(c, (counts.get(c) ?? 0) + 1);
  return [...counts].map(([c, n]) => `${n}× ${CAUSE_TEXT[c]}`).join(', ');
}
