/**
 * The boot-proof gate: a profile whose image failed its boot proof claims no jobs. Pure (core/):
 * the planner calls `proofGate` for each job it would admit, with what the daemon's boot proof
 * (daemon/boot-proof.ts) found so far; a reason means "do not claim, wait, and show this".
 *
 * Why: a Mac that cannot boot an image (no unlocked keychain under launchd, a profile below the
 * image's memory minimum, Softnet without its SUID bit, SSH blocked with no `tart exec` to fall
 * back on) would otherwise claim every matching job, fail `vm.max_boot_attempts` boots and give it
 * up: a broken Mac eats jobs another Mac could run. Unclaimed, the job stays queued for the others.
 *
 * ## Gotchas
 * - No proof at all (`undefined`: `vm.boot_proof: false`, or `ls --live`/`--dry-run` observing
 *   without a daemon) gates nothing: the gate only acts on evidence.
 * - `pending` gates too: until the first proof of an image has ended, its jobs wait ("boot proof
 *   under way"), so a broken Mac does not claim jobs in the minute after its start.
 * - A profile can fail on its own while its image passes: `ram_mb`/`cpu` below the image's minimum
 *   (tart's LessThanMinimalResourcesError) fails that profile only.
 */

/** What the proof found for one image (the part the planner needs). */
export interface ImageProofView {
  status: 'pending' | 'passed' | 'failed';
  /** Failed: what went wrong, in the operator's words (e.g. "keychain locked"). */
  reason?: string;
  /** Failed: what to do about it. */
  fix?: string;
  /** Profiles of this image that cannot boot it (below its minimum), with tart's words and the fix. */
  profiles?: Record<string, { reason: string; fix: string }>;
}

/** The proof's view by image name. */
export type BootProofView = Record<string, ImageProofView>;

/** Why a job of `profile` on `image` must not be claimed now, or undefined when it may. */
export function proofGate(proof: BootProofView | undefined, image: string, profile: string): string | undefined {
  if (!proof) return undefined;
  const p = proof[image];
  if (!p) return undefined;
  if (p.status === 'pending') return `image ${image}: boot proof under way (no job is claimed until this Mac has booted it once)`;
  if (p.status === 'failed') return `image ${image} failed its boot proof: ${p.reason ?? 'unknown'}${p.fix ? ` — fix: ${p.fix}` : ''}`;
  const own = p.profiles?.[profile];
  if (own) return `profile ${profile} cannot boot image ${image}: ${own.reason} — fix: ${own.fix}`;
  return undefined;
}
