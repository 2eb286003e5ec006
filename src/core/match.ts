/**
 * Label matching (facts sheet §9): a runner can take a job when the job's `runs-on` labels are a
 * subset of the runner's labels, case-insensitively. `self-hosted` is on every runner we create.
 *
 * A job is for profile P when `runs-on` minus `self-hosted` is a subset of P's runner labels
 * (P's name, its extra labels and this Mac's `tf-host-` label) and `self-hosted` is present (a job without it targets
 * GitHub-hosted runners and is never ours).
 */
import type { Profile } from '../config/types.js';

export function runnerLabels(profile: Profile, hostLabel: string): string[] {
  return ['self-hosted', profile.name, ...profile.labels, hostLabel];
}

/** The profile a job's labels select, or undefined when none matches. */
export function profileForLabels(labels: string[], profiles: Record<string, Profile>, hostLabel: string): Profile | undefined {
  const wanted = new Set(labels.map((l) => l.toLowerCase()));
  if (!wanted.delete('self-hosted')) return undefined;
  if (wanted.size === 0) return undefined; // bare `self-hosted` would take any runner: not ours to guess
  let best: Profile | undefined;
  for (const p of Object.values(profiles)) {
    // Our host label is on our runners too, so a job may pin itself to this Mac with it.
    const has = new Set([p.name, ...p.labels, hostLabel].map((l) => l.toLowerCase()));
    if (![...wanted].every((l) => has.has(l))) continue;
    // Two profiles could both match via extra labels; the profile named in runs-on wins, then the smaller.
    if (!best || (wanted.has(p.name) && !wanted.has(best.name)) || (wanted.has(p.name) === wanted.has(best.name) && p.ram_mb < best.ram_mb)) best = p;
  }
  return best;
}
