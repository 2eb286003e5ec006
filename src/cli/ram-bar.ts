/**
 * Small text renderings shared by `ls` (src/cli/) and the demo's live view (src/sim/): kept below
 * both so the simulated world never imports from the command layer.
 */

/** `[██████░░░░] 6144/12288 MB` — a RAM bar; `?` when the usage is unknown. */
export function ramBar(usedMb: number | null, ceilingMb: number, width: number): string {
  if (usedMb === null) return `[${'?'.repeat(width)}] ?/${ceilingMb} MB`;
  const filled = ceilingMb > 0 ? Math.min(width, Math.round((usedMb / ceilingMb) * width)) : width;
  return `[${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ${usedMb}/${ceilingMb} MB`;
}
