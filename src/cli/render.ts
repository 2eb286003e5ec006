/**
 * Small text renderings shared by `ls` and the demo's live view: the RAM bar, the VM and queue
 * tables, and the terminal escapes for the alternate screen.
 *
 * ## Gotchas
 * - Tables are compact (no line between rows) and the `why` column is wrapped to the terminal's
 *   width when it is known, so a long reason is never cut off.
 * - A queue that could not be read (`github` null) is "unknown", never "(no queued jobs)".
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

/** The ledger line, GitHub budget, problems, VM table and queue table of `ls`, as lines. */
export function renderLsTables(view: LsView, columns?: number): string[] {
  const { ledger } = view;
  const out: string[] = [];
  out.push(`RAM  ${ramBar(ledger.used_mb, ledger.ceiling_mb, 30)}  VMs ${ledger.vms ?? '?'}/${ledger.max_vms}`);
  if (view.github) {
    out.push(`GitHub: ${view.github.requests} requests (${view.github.not_modified} not modified), rate limit left ${view.github.rate_limit_remaining ?? '?'}, coldest repo ${view.github.coldest_repo_age_s} s old`);
  }
  if (view.github_budget) {
    const b = view.github_budget;
    out.push(`GitHub budget: ${b.last_minute}/${b.per_minute} requests in the last minute${b.backoffs ? `, ${b.backoffs} back-off(s) since start` : ''}`);
  }
  if (view.github_feed) {
    const f = view.github_feed;
    out.push(`Event feed: ${f.source} ${f.state}, ${f.hints} hint(s), ${f.polls} poll(s)${f.throttled ? `, ${f.throttled} throttled deliveries` : ''}`);
  }
  for (const p of view.problems) out.push(`! ${p}`);
  const vms = new Table({ head: ['VM', 'profile', 'state', 'repo', 'job', 'age', 'RAM MB', 'CPU', 'IP', 'runner'], style: COMPACT });
  for (const v of view.vms) {
    vms.push([v.name, v.profile, v.state, v.repo ?? '-', String(v.job_id), v.age_s === null ? '?' : `${v.age_s}s`, String(v.ram_mb), String(v.cpu), v.ip ?? '-', v.runner_status ?? '-']);
  }
  for (const c of view.creating) if (!view.vms.some((v) => v.name === c.vm)) vms.push([c.vm, c.profile, 'creating', '-', String(c.job_id), `${c.age_s}s`, '-', '-', '-', '-']);
  out.push(vms.length ? vms.toString() : '(no VMs of this host)');
  if (!view.github) {
    out.push('(queue unknown: GitHub could not be read)');
    return out;
  }
  const rows = view.queue.map((q) => [q.repo, String(q.job_id), q.profile ?? '-', `${q.waiting_s}s`, q.reason]);
  // Width left for `why` once the other columns (content + 2 padding each) and 6 borders are drawn.
  const others = [0, 1, 2, 3].map((i) => Math.max(['repo', 'job', 'profile', 'waiting'][i]!.length, ...rows.map((r) => r[i]!.length)) + 2);
  const whyWidth = columns ? Math.max(20, columns - others.reduce((a, b) => a + b, 0) - 6) : undefined;
  const queue = new Table({ head: ['repo', 'job', 'profile', 'waiting', 'why'], style: COMPACT, ...(whyWidth ? { colWidths: [null, null, null, null, whyWidth], wordWrap: true } : {}) } as ConstructorParameters<typeof Table>[0]);
  for (const r of rows) queue.push(r);
  out.push(view.queue.length ? queue.toString() : '(no queued jobs)');
  return out;
}
