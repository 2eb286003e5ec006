/**
 * Identity lives in names (architecture.md §2).
 *
 * - VM:     `tf-<runner_name>-<profile>-<job id>[-<n>]`  — whose VM it is and which job claim it serves.
 * - Runner: `tf-<profile>-<job id>[-<n>]`                — the org-wide claim on a job; no Mac's name,
 *   so GitHub's unique runner names make it a lock between Macs.
 * - Label:  `tf-host-<runner_name>`                     — which Mac owns a runner.
 *
 * `<n>` is the attempt: absent for the first, 2, 3, … for retries.
 *
 * ## Gotchas
 * - Profile names are words that start with a letter (schema), so a trailing `-<digits>` can only be
 *   the job id or the attempt: parsing is unambiguous even when the profile contains dashes.
 * - A VM is ours only if its name starts with exactly `tf-<runner_name>-`; anything else is never touched.
 */

export interface Claim {
  profile: string;
  jobId: number;
  /** 1 for the first attempt (no suffix), 2+ for retries. */
  attempt: number;
}

const CLAIM = /^([a-z][a-z0-9_]*(?:-[a-z][a-z0-9_]*)*)-(\d+)(?:-(\d+))?$/;

function parseClaim(rest: string): Claim | undefined {
  const m = CLAIM.exec(rest);
  if (!m) return undefined;
  const jobId = Number(m[2]);
  const attempt = m[3] === undefined ? 1 : Number(m[3]);
  if (!Number.isSafeInteger(jobId) || attempt < 2 && m[3] !== undefined) return undefined;
  return { profile: m[1]!, jobId, attempt };
}

function suffix(attempt: number): string {
  return attempt <= 1 ? '' : `-${attempt}`;
}

/** `hostName` is this Mac's name (the config key `github.runner_name`, kept from the seed). */
export function vmName(hostName: string, claim: Claim): string {
  return `tf-${hostName}-${claim.profile}-${claim.jobId}${suffix(claim.attempt)}`;
}

/** The claim a VM serves, or undefined when the VM is not ours (never touch it then). */
export function parseVmName(hostName: string, name: string): Claim | undefined {
  const prefix = `tf-${hostName}-`;
  return name.startsWith(prefix) ? parseClaim(name.slice(prefix.length)) : undefined;
}

export function runnerName(claim: Claim): string {
  return `tf-${claim.profile}-${claim.jobId}${suffix(claim.attempt)}`;
}

export function parseRunnerName(name: string): Claim | undefined {
  return name.startsWith('tf-') ? parseClaim(name.slice(3)) : undefined;
}

export function hostLabel(hostName: string): string {
  return `tf-host-${hostName}`;
}

/** Whether a runner belongs to the Mac named `hostName` (labels compare case-insensitively). */
export function ownedByHost(runner: { labels: string[] }, hostName: string): boolean {
  const label = hostLabel(hostName).toLowerCase();
  return runner.labels.some((l) => l.toLowerCase() === label);
}

/** A claim's identity without the attempt: one job, one profile. */
export function claimKey(c: Pick<Claim, 'profile' | 'jobId'>): string {
  return `${c.profile}-${c.jobId}`;
}

/** The inverse of claimKey (a profile name may itself contain '-'; the job id never does). */
export function parseClaimKey(key: string): Pick<Claim, 'profile' | 'jobId'> {
  const dash = key.lastIndexOf('-');
  return { profile: key.slice(0, dash), jobId: Number(key.slice(dash + 1)) };
}

/** Runners of ours (names that parse), newest attempt first: a claim's current runner is the first. */
export function newestAttemptFirst<R extends { name: string }>(runners: readonly R[]): R[] {
  return [...runners].sort((a, b) => parseRunnerName(b.name)!.attempt - parseRunnerName(a.name)!.attempt);
}
