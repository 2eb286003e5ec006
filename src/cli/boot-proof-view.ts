/**
 * How `ls` (and `selftest --as-daemon`) show the daemon's boot proof (`<state_dir>/boot-proof.json`,
 * written by daemon/boot-proof.ts): one line per image — passed (and how runners are delivered),
 * failed (what, and the fix), or under way — plus the warnings and the profiles that cannot boot.
 *
 * ## Gotchas
 * - The file is the daemon's own result, from its own launchd context; nothing here re-runs it.
 */
import type { BootProofReport, ImageProof } from '../daemon/boot-proof.js';

export function renderImageProof(p: ImageProof): string[] {
  const out: string[] = [];
  if (p.status === 'passed') {
    out.push(`boot proof ${p.image}: passed (${p.os ?? '?'}; ssh ${p.ssh}, tart exec ${p.exec}; runners delivered by ${p.delivery ?? '?'})`);
  } else if (p.status === 'failed') {
    out.push(`! boot proof ${p.image}: FAILED, no job of this image is claimed: ${p.failure?.kind ?? '?'}: ${p.failure?.detail ?? ''}`);
    if (p.failure) out.push(`  fix: ${p.failure.fix}`);
  } else {
    out.push(`boot proof ${p.image}: under way${p.failure ? ` (last try: ${p.failure.kind}: ${p.failure.detail})` : ''}; its jobs wait`);
  }
  for (const w of p.warnings) out.push(`! boot proof ${p.image}: ${w}`);
  for (const [profile, why] of Object.entries(p.profiles)) out.push(`! profile ${profile} cannot boot ${p.image}: ${why.reason} — fix: ${why.fix}`);
  return out;
}

export function renderBootProof(report: BootProofReport | undefined): string[] {
  if (!report) return [];
  return Object.values(report.images).flatMap(renderImageProof);
}
