/**
 * Whether this Mac takes new jobs, as `ls` (human and `--json`), the status snapshot and the metrics
 * show it: `"admission": "open"` or `"draining"` (see adapters/admission-state.ts for the file and
 * core/plan.ts for the rule).
 *
 * ## Gotchas
 * - It is what the tick observed (the daemon reads the file every tick), so a snapshot shows a
 *   drain once a tick has seen it: `drain --wait` waits for that before it calls the Mac idle.
 */
import type { Observed } from '../core/model.js';

export interface AdmissionView {
  admission: 'open' | 'draining';
  /** When `tart-fleet drain` was run (ISO), null while open or when the file could not be read. */
  draining_since: string | null;
  /** Who drained and when, or why the file is not understood; null while open. */
  draining_note: string | null;
}

export function admissionView(world: Observed): AdmissionView {
  const d = world.draining;
  if (!d) return { admission: 'open', draining_since: null, draining_note: null };
  return { admission: 'draining', draining_since: d.since === undefined ? null : new Date(d.since).toISOString(), draining_note: d.note };
}

/** The line `ls` prints under its header while draining; none while open. */
export function admissionLines(view: Partial<AdmissionView>): string[] {
  if (view.admission !== 'draining') return [];
  return [`admission: DRAINING (${view.draining_note ?? 'since an unknown time'}): no new job is claimed; running jobs finish; \`tart-fleet resume\` ends it`];
}
