/**
 * The demand rule, per profile: which queued jobs still need a new VM from this Mac, and why each
 * of the others waits. Pure; admission against the RAM ledger and the fair-share cap is separate
 * (plan.ts).
 *
 * The count is ARC's one-line desired count:
 *
 *     unserved = queued jobs − runners that can still take one − creations whose runner is not listed yet
 *
 * A JIT runner may take any queued job whose labels it has, not the one it was made for, so the
 * count is per profile; the jobs that get the unserved slots are the oldest ones nobody claimed.
 *
 * ## Gotchas
 * - A claim (runner `tf-<profile>-<job>[-n]`) by another Mac is trusted only while it can still
 *   take a job: online, or registered for less than a boot can take. A Mac that died between claim
 *   and boot leaves a registered runner forever; after the window the job is served here with the
 *   next attempt suffix, and that runner is never deleted by us (it is not ours).
 * - A job that used up its attempts on this Mac waits with the reason, whatever the count says.
 */
import type { Job, Runner } from './ports.js';
import { parseRunnerName } from './names.js';

/** ARC's desired count. */
export function unservedCount(queued: number, runnersThatCanTakeOne: number, creatingNotYetListed: number): number {
  return Math.max(0, queued - runnersThatCanTakeOne - creatingNotYetListed);
}

export type Standing =
  | { kind: 'wait'; job: Job; reason: string }
  /** Claim the job with this attempt number; `note` says why when it is not a plain first claim. */
  | { kind: 'claim'; job: Job; attempt: number; note?: string };

export interface ProfileDemand {
  /** Queued jobs whose labels name this profile, oldest first. */
  queued: Job[];
  /** Every Mac's runners named for this profile and job. */
  claimsOf(jobId: number): Runner[];
  /** Runners of this profile (any Mac, any job) that can still take a job. */
  canTakeJob: ReadonlySet<Runner>;
  /** Whether this Mac is creating a VM for the job right now. */
  creatingHere(jobId: number): boolean;
  /** Creations of this profile whose runner GitHub does not list yet (they will take a job too). */
  creatingNotYetListed: number;
  ownedHere(runner: Runner): boolean;
  /** Why this Mac left the job alone (used-up attempts), if it did. */
  gaveUp(jobId: number): string | undefined;
}

/**
 * Runners that will take one of these jobs. A registered runner of another Mac that never connected
 * and is named for a job that is not queued (another runner took it, or it is gone) is that job's
 * leftover claim, not supply: counting it made every job of the profile wait a boot window (issue
 * 29). If it does connect, GitHub may hand it a job; that costs one spare VM at most.
 */
function supply(d: ProfileDemand): number {
  const queued = new Set(d.queued.map((j) => j.id));
  let n = 0;
  for (const r of d.canTakeJob) {
    const jobId = parseRunnerName(r.name)?.jobId;
    if (r.status === 'online' || r.everConnected || d.ownedHere(r) || (jobId !== undefined && queued.has(jobId))) n++;
  }
  return n;
}

export function demandFor(d: ProfileDemand): Standing[] {
  let unserved = unservedCount(d.queued.length, supply(d), d.creatingNotYetListed);
  return d.queued.map((job): Standing => {
    const claims = d.claimsOf(job.id);
    const liveClaim = claims.find((r) => d.canTakeJob.has(r));
    if (d.creatingHere(job.id)) return { kind: 'wait', job, reason: 'claimed by this Mac; VM being created' };
    if (liveClaim) {
      return { kind: 'wait', job, reason: `claimed by ${liveClaim.name} (${d.ownedHere(liveClaim) ? 'this Mac' : 'another Mac'}); waiting for its runner` };
    }
    const gaveUp = d.gaveUp(job.id);
    if (gaveUp) return { kind: 'wait', job, reason: gaveUp };
    if (unserved <= 0) return { kind: 'wait', job, reason: 'an idle or booting runner will take it' };
    unserved -= 1;
    const attempt = 1 + Math.max(0, ...claims.map((r) => parseRunnerName(r.name)?.attempt ?? 0));
    const stale = claims.find((r) => !d.ownedHere(r) && !r.everConnected);
    return stale
      ? { kind: 'claim', job, attempt, note: `another Mac's claim ${stale.name} never connected within the boot timeout; serving it here` }
      : { kind: 'claim', job, attempt };
  });
}
