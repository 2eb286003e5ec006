/**
 * Renders the demo: a live screen for terminals (progress, RAM bar, VMs, queue with reasons,
 * recent events) and one plain line per daemon event when stdout is not a TTY. Pure string
 * building; the demo command decides when to draw and where (alternate screen).
 *
 * ## Gotchas
 * - Consistent frames: the tables come from the daemon's status snapshot, and the progress bar is
 *   the jobs' state *at the moment that snapshot observed the world* (from the fake GitHub's
 *   history), so a job is never "done" above and "running" below.
 * - The frame is fitted to the terminal: no line longer than `columns`, no more lines than `rows`;
 *   the header (title, progress, RAM) always shows, then VMs, then the queue, then events.
 */
import type { StatusSnapshot } from '../status/snapshot.js';
import { ramBar } from './ram-bar.js';

export interface DemoProgress {
  total: number;
  queued: number;
  running: number;
  done: number;
  elapsedS: number;
}

export interface DemoFrame {
  snapshot: StatusSnapshot | undefined;
  /** Age of the snapshot in seconds (now - written_at). */
  snapshotAgeS?: number;
  progress: DemoProgress;
  events: string[];
  title: string;
  /** A line shown under the title, e.g. that the machine is slow. */
  note?: string;
  columns?: number;
  rows?: number;
}

const RESET = '\x1b[0m';
const BOLD = '\x1b[1m';
const DIM = '\x1b[2m';

function pad(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, Math.max(0, n - 1))}…` : s.padEnd(n);
}

export function progressBar(p: DemoProgress, width = 30): string {
  const done = p.total ? Math.round((p.done / p.total) * width) : 0;
  const running = p.total ? Math.min(width - done, Math.round((p.running / p.total) * width)) : 0;
  return `[${'█'.repeat(done)}${'▒'.repeat(running)}${'░'.repeat(width - done - running)}] ${p.done}/${p.total} done, ${p.running} running, ${p.queued} queued`;
}

/** A line, cut to `width` visible characters, with an optional style around it. */
function line(text: string, width: number, style = ''): string {
  const cut = text.length > width ? `${text.slice(0, width - 1)}…` : text;
  return style ? `${style}${cut}${RESET}` : cut;
}

/** The frame's text (no screen-clearing escape: the caller adds it). */
export function renderScreen(f: DemoFrame): string {
  const width = Math.max(40, f.columns ?? 100);
  const rows = Math.max(10, f.rows ?? 40);
  const head: string[] = [];
  const s = f.snapshot;
  const age = s && f.snapshotAgeS !== undefined ? `  status of tick ${s.tick}, ${f.snapshotAgeS} s old` : '';
  head.push(line(`${f.title}  ${f.progress.elapsedS.toFixed(0)} s${age}`, width, BOLD));
  if (f.note) head.push(line(f.note, width, BOLD));
  head.push(line(`Jobs ${progressBar(f.progress, Math.min(30, Math.max(10, width - 50)))}`, width));
  if (!s) {
    head.push(line('(waiting for the daemon\'s first status snapshot)', width, DIM));
    return `${head.join('\n')}\n`;
  }
  head.push(line(`RAM  ${ramBar(s.ledger.used_mb, s.ledger.ceiling_mb, Math.min(30, Math.max(10, width - 45)))}   macOS VMs ${s.ledger.vms ?? '?'}/${s.ledger.max_vms}`, width));
  for (const p of [...s.problems, ...s.last_tick.degraded]) head.push(line(`! ${p}`, width));

  // Column widths shrink with the terminal; the last column takes what is left.
  const vmW = Math.min(30, Math.max(16, width - 60));
  const vmLines: string[] = [line(`${pad('VM', vmW)} ${pad('profile', 9)} ${pad('state', 10)} ${pad('job', 20)} ${pad('RAM', 6)} runner`, width, BOLD)];
  const creating = s.creating.filter((c) => !s.vms.some((v) => v.name === c.vm));
  if (s.vms.length === 0 && creating.length === 0) vmLines.push(line('(no VMs: nothing idles)', width, DIM));
  for (const vm of s.vms) {
    const state = vm.creating ? `${vm.state}*` : vm.state;
    vmLines.push(line(`${pad(vm.name, vmW)} ${pad(vm.profile, 9)} ${pad(state, 10)} ${pad(`${vm.repo ?? '?'}#${vm.job_id}`, 20)} ${pad(String(vm.ram_mb), 6)} ${vm.runner_status ?? '-'}`, width));
  }
  for (const c of creating) vmLines.push(line(`${pad(c.vm, vmW)} ${pad(c.profile, 9)} ${pad('creating', 10)} ${pad(`#${c.job_id}`, 20)} ${pad('-', 6)} -`, width));

  const whyW = Math.max(10, width - 44);
  const queueLines: string[] = [line(`${pad('queued job', 22)} ${pad('profile', 10)} ${pad('waiting', 8)} why`, width, BOLD)];
  if (!s.github) queueLines.push(line('(queue unknown: GitHub could not be read)', width, DIM));
  else if (s.queue.length === 0) queueLines.push(line('(queue empty)', width, DIM));
  const queueRows = s.queue.map((q) => `${pad(`${q.repo}#${q.job_id}`, 22)} ${pad(q.profile ?? '-', 10)} ${pad(`${q.waiting_s}s`, 8)} ${pad(q.reason, whyW)}`);

  const eventHead = line('recent events', width, BOLD);
  // Budget: header, then VMs (all: at most max_vms and the creations), then the queue, then events.
  let budget = rows - 1 - head.length - 1 - vmLines.length - 1 - queueLines.length;
  const shownQueue = queueRows.length <= budget ? queueRows : queueRows.slice(0, Math.max(0, budget - 1));
  const moreQueue = queueRows.length - shownQueue.length;
  budget -= shownQueue.length + (moreQueue ? 1 : 0);
  const shownEvents = budget >= 3 ? f.events.slice(-(budget - 2)) : [];
  const out = [...head, '', ...vmLines, '', ...queueLines, ...shownQueue.map((q) => line(q, width))];
  if (moreQueue) out.push(line(`… ${moreQueue} more`, width, DIM));
  if (shownEvents.length) out.push('', eventHead, ...shownEvents.map((e) => line(e, width)));
  return `${out.join('\n')}\n`;
}

/** One daemon log line → one short human line, or undefined for lines not worth showing. */
export function describeLogLine(entry: Record<string, unknown>): string | undefined {
  const msg = typeof entry.msg === 'string' ? entry.msg : undefined;
  if (!msg) return typeof entry.raw === 'string' ? entry.raw : undefined;
  if (msg === 'tick done') {
    const admitted = Number(entry.admitted ?? 0);
    const deleted = Number(entry.deleted_vms ?? 0);
    if (admitted === 0 && deleted === 0) return undefined;
  }
  if (entry.level === 'debug') return undefined;
  const time = typeof entry.time === 'string' ? entry.time.slice(11, 19) : '';
  const fields = ['vm', 'profile', 'repo', 'job', 'runner', 'ip', 'admitted', 'deleted_vms', 'reason', 'error']
    .filter((k) => entry[k] !== undefined)
    .map((k) => `${k}=${typeof entry[k] === 'string' && String(entry[k]).includes(' ') ? JSON.stringify(entry[k]) : String(entry[k])}`);
  return `${time} ${String(entry.level ?? '').padEnd(5)} ${msg}${fields.length ? `  ${fields.join(' ')}` : ''}`;
}
