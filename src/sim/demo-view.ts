/**
 * Renders the demo: a live screen for terminals (VMs, RAM bar, queue with reasons, progress, recent
 * events) and one plain line per daemon event when stdout is not a TTY. Pure string building; the
 * demo command decides when to draw.
 */
import type { LsJson } from './world.js';
import { ramBar } from '../view/ram-bar.js';

export interface DemoProgress {
  total: number;
  queued: number;
  running: number;
  done: number;
  elapsedS: number;
}

const RESET = '\x1b[0m';
const BOLD = '\x1b[1m';
const DIM = '\x1b[2m';

function pad(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s.padEnd(n);
}

export function progressBar(p: DemoProgress, width = 30): string {
  const done = p.total ? Math.round((p.done / p.total) * width) : 0;
  const running = p.total ? Math.min(width - done, Math.round((p.running / p.total) * width)) : 0;
  return `[${'█'.repeat(done)}${'▒'.repeat(running)}${'░'.repeat(width - done - running)}] ${p.done}/${p.total} done, ${p.running} running, ${p.queued} queued`;
}

export function renderScreen(ls: LsJson | undefined, progress: DemoProgress, events: string[], title: string, columns = 100): string {
  const width = Math.max(60, Math.min(columns, 120));
  const lines: string[] = [];
  lines.push(`${BOLD}${title}${RESET}  ${DIM}${progress.elapsedS.toFixed(0)} s${RESET}`);
  lines.push(`Jobs ${progressBar(progress)}`);
  if (ls) {
    lines.push(`RAM  ${ramBar(ls.ledger.used_mb, ls.ledger.ceiling_mb, 30)}   macOS VMs ${ls.ledger.vms ?? '?'}/${ls.ledger.max_vms}`);
    for (const p of ls.problems) lines.push(`! ${p}`);
    lines.push('');
    lines.push(`${BOLD}${pad('VM', 34)} ${pad('profile', 10)} ${pad('state', 18)} ${pad('job', 22)} ${pad('RAM', 7)} runner${RESET}`);
    if (ls.vms.length === 0) lines.push(`${DIM}(no VMs: nothing idles)${RESET}`);
    for (const vm of ls.vms) {
      lines.push(`${pad(vm.name, 34)} ${pad(vm.profile, 10)} ${pad(vm.state, 18)} ${pad(`${vm.repo ?? '?'}#${vm.job_id}`, 22)} ${pad(`${vm.ram_mb}`, 7)} ${vm.runner_status ?? '-'}`);
    }
    lines.push('');
    lines.push(`${BOLD}${pad('queued job', 22)} ${pad('profile', 10)} ${pad('waiting', 8)} why${RESET}`);
    if (ls.queue.length === 0) lines.push(`${DIM}(queue empty)${RESET}`);
    for (const q of ls.queue.slice(0, 12)) {
      lines.push(`${pad(`${q.repo}#${q.job_id}`, 22)} ${pad(q.profile ?? '-', 10)} ${pad(`${q.waiting_s}s`, 8)} ${pad(q.reason, width - 44)}`);
    }
    if (ls.queue.length > 12) lines.push(`${DIM}… ${ls.queue.length - 12} more${RESET}`);
  } else {
    lines.push(`${DIM}(waiting for the first observation)${RESET}`);
  }
  lines.push('');
  lines.push(`${BOLD}recent events${RESET}`);
  for (const e of events.slice(-8)) lines.push(pad(e, width));
  return `\x1b[H\x1b[2J${lines.join('\n')}\n`;
}

/** One daemon log line → one short human line, or undefined for lines not worth showing. */
export function describeLogLine(line: Record<string, unknown>): string | undefined {
  const msg = typeof line.msg === 'string' ? line.msg : undefined;
  if (!msg) return typeof line.raw === 'string' ? line.raw : undefined;
  if (msg === 'tick done') {
    const created = Number(line.created ?? 0);
    const deleted = Number(line.deleted_vms ?? 0);
    if (created === 0 && deleted === 0) return undefined;
  }
  if (line.level === 'debug') return undefined;
  const time = typeof line.time === 'string' ? line.time.slice(11, 19) : '';
  const fields = ['vm', 'profile', 'repo', 'job', 'runner', 'ip', 'created', 'deleted_vms', 'reason', 'error']
    .filter((k) => line[k] !== undefined)
    .map((k) => `${k}=${typeof line[k] === 'string' && String(line[k]).includes(' ') ? JSON.stringify(line[k]) : String(line[k])}`);
  return `${time} ${String(line.level ?? '').padEnd(5)} ${msg}${fields.length ? `  ${fields.join(' ')}` : ''}`;
}
