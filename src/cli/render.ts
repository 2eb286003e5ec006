/**
 * Small text renderings shared by `ls` and the demo's live view: the RAM bar, the VM and queue
 * tables, and the terminal escapes for the alternate screen.
 *
 * ## Gotchas
 * - Tables are compact (no line between rows) and the `why` column is wrapped to the terminal's
 *   width when it is known, so a long reason is never cut off.
 * - Repository, job and label names come from GitHub, i.e. from whoever writes a workflow: a
 *   `runs-on` label can carry ESC sequences (OSC 52 writes the operator's clipboard, CSI clears the
 *   screen; audit turn4-security N11). Every cell and line goes through `terminalSafe`, which
 *   replaces C0/C1 control characters (ESC and CSI included, so no sequence survives) and Unicode
 *   bidi overrides with `?`. Our own escapes (ALT_SCREEN_*, CLEAR_HOME) are written separately.
 * - A queue that could not be read (`github` or `queue` null) is "unknown", never "(no queued jobs)";
 *   VMs that could not be read (tart unreadable: the ledger's `used_mb` is null) are "unknown", never
 *   "(no VMs of this host)".
 * - `VMs` counts every VM of this host; the ledger's `vms` counts macOS guests only (Apple's limit of
 *   two per Mac, `host.max_vms`), so both are shown, each named.
 * - The GitHub budget's "last minute" is the minute before the observation: on an old snapshot it says
 *   so, with its age.
 */
import Table from 'cli-table3';
import { ramBar } from './ram-bar.js';
import type { LsView } from '../core/fleet-view.js';

/** Switch to / back from the terminal's alternate screen: frames do not pile up in the scrollback. */
export const ALT_SCREEN_ON = '\x1b[?1049h';
export const ALT_SCREEN_OFF = '\x1b[?1049l';
/** Cursor home + clear the screen (used inside the alternate screen). */
export const CLEAR_HOME = '\x1b[H\x1b[2J';

export { ramBar };

const COMPACT = { head: [], border: [], compact: true };
/** A snapshot older than this (s) no longer shows "the last minute". */
const STALE_MINUTE_S = 10;

/** C0 (but newline), DEL, C1, and the bidi embedding/override/isolate controls (U+202A-202E, U+2066-2069). */
// Matching control characters is the point here.
/* eslint-disable no-control-regex */
const UNSAFE_IN_LINE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
const UNSAFE_IN_CELL = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
/* eslint-enable no-control-regex */

/** Text from outside made safe for a terminal: control characters become `?` (newlines kept unless `cell`). */
export function terminalSafe(text: string, cell = false): string {
  return text.replace(cell ? UNSAFE_IN_CELL : UNSAFE_IN_LINE, '?');
}

/** `VMs 3 (macOS 1/2)`: every VM of this host, then the macOS guests against their cap; `?` when tart was not read. */
export function vmCount(ledger: LsView['ledger'], vms: number): string {
  const tartRead = ledger.used_mb !== null;
  return `VMs ${tartRead ? vms : '?'} (macOS ${ledger.vms ?? '?'}/${ledger.max_vms})`;
}

/** What the VM table says when tart was not read (the reason is among the problems printed above it). */
function tartUnreadable(): string {
  return 'unknown (tart could not be read; the reason is above)';
}

/**
 * The ledger line, GitHub budget, problems, VM table and queue table of `ls`, as lines. `snapshotAgeS`:
 * how old the observation is (a status snapshot), so time-relative figures can say so.
 */
export function renderLsTables(view: LsView, columns?: number, snapshotAgeS?: number): string[] {
  const { ledger } = view;
  const out: string[] = [];
  out.push(`RAM  ${ramBar(ledger.used_mb, ledger.ceiling_mb, 30)}  ${vmCount(ledger, view.vms.length)}`);
  if (view.github) {
    out.push(`GitHub: ${view.github.requests} requests (${view.github.not_modified} not modified), rate limit left ${view.github.rate_limit_remaining ?? '?'}, coldest repo ${view.github.coldest_repo_age_s} s old`);
  }
  if (view.github_budget) {
    const b = view.github_budget;
    // More than a poll or two old, "the last minute" would be a minute that is over.
    const when = snapshotAgeS !== undefined && snapshotAgeS > STALE_MINUTE_S ? `in the minute before the snapshot (${snapshotAgeS} s ago)` : 'in the last minute';
    out.push(`GitHub budget: ${b.last_minute}/${b.per_minute} requests ${when}${b.backoffs ? `, ${b.backoffs} back-off(s) since start` : ''}`);
  }
  if (view.github_feed) {
    const f = view.github_feed;
    out.push(`Event feed: ${f.source} ${f.state}, ${f.hints} hint(s), ${f.polls} poll(s)${f.throttled ? `, ${f.throttled} throttled deliveries` : ''}`);
  }
  for (const p of view.problems) out.push(`! ${terminalSafe(p)}`);
  const vms = new Table({ head: ['VM', 'profile', 'state', 'repo', 'job', 'age', 'RAM MB', 'CPU', 'IP', 'runner'], style: COMPACT });
  for (const v of view.vms) {
    vms.push([v.name, v.profile, v.creating ? `${v.state} (creating)` : v.state, v.repo ?? '-', String(v.job_id), v.age_s === null ? '?' : `${v.age_s}s`, String(v.ram_mb), String(v.cpu), v.ip ?? '-', v.runner_status ?? '-'].map((c) => terminalSafe(c, true)));
  }
  for (const c of view.creating) if (!view.vms.some((v) => v.name === c.vm)) vms.push([c.vm, c.profile, 'creating', '-', String(c.job_id), `${c.age_s}s`, '-', '-', '-', '-']);
  out.push(vms.length ? vms.toString() : ledger.used_mb === null ? `VMs: ${tartUnreadable()}` : '(no VMs of this host)');
  if (!view.github || view.queue === null) {
    out.push('(queue unknown: GitHub could not be read)');
    return out;
  }
  const rows = view.queue.map((q) => [q.repo, String(q.job_id), q.profile ?? '-', `${q.waiting_s}s`, q.reason].map((c) => terminalSafe(c, true)));
  // Width left for `why` once the other columns (content + 2 padding each) and 6 borders are drawn.
  const others = [0, 1, 2, 3].map((i) => Math.max(['repo', 'job', 'profile', 'waiting'][i]!.length, ...rows.map((r) => r[i]!.length)) + 2);
  const whyWidth = columns ? Math.max(20, columns - others.reduce((a, b) => a + b, 0) - 6) : undefined;
  const queue = new Table({ head: ['repo', 'job', 'profile', 'waiting', 'why'], style: COMPACT, ...(whyWidth ? { colWidths: [null, null, null, null, whyWidth], wordWrap: true } : {}) } as ConstructorParameters<typeof Table>[0]);
  for (const r of rows) queue.push(r);
  out.push(view.queue.length ? queue.toString() : '(no queued jobs)');
  return out;
}
