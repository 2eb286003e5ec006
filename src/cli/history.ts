/**
 * `tart-fleet ls --history`: the jobs that ended on this Mac, newest first, from the daemon's job
 * history (`host.state_dir/history.jsonl`, the last 500; adapters/history-file.ts): repository,
 * workflow, job, profile, queue wait, boot time, run time, result and, for a give-up, why.
 * `--json` prints them all as one object. Reads a file only: no GitHub request, no daemon needed.
 *
 * ## Gotchas
 * - `?` is "not known" (a VM adopted after a restart has no queue wait or boot time), `-` is "did
 *   not happen" (a job that never started has no run time).
 */
import Table from 'cli-table3';
import { HistoryFile, HISTORY_MAX, type JobRecord } from '../adapters/history-file.js';
import { println, type CliContext } from './context.js';

/** Rows a terminal gets; `--json` has every kept record. */
export const HISTORY_SHOWN = 30;

export function historyCommand(ctx: CliContext, stateDir: string, runnerName: string | undefined, json: boolean): number {
  const file = new HistoryFile(stateDir);
  const records = file.read();
  if (json) {
    println(ctx.stdout, JSON.stringify({ ...(runnerName ? { runner_name: runnerName } : {}), file: file.path, kept_max: HISTORY_MAX, history: [...records].reverse() }, null, 2));
    return 0;
  }
  if (records.length === 0) {
    println(ctx.stdout, `no job has ended on this Mac yet (${file.path})`);
    return 0;
  }
  const shown = records.slice(-HISTORY_SHOWN).reverse();
  const table = new Table({ head: ['ended', 'profile', 'repo', 'workflow / job', 'wait', 'boot', 'ran', 'result'], style: { head: [], border: [], compact: true } });
  for (const r of shown) {
    const what = [r.workflow, r.job].filter(Boolean).join(' / ') || `job ${r.job_id}`;
    table.push([shortTime(r.ended_at), r.profile, r.repo ?? '?', what, dur(r.queue_wait_s, '?'), dur(r.boot_s, r.result === 'done' || r.result === 'timeout' ? '?' : '-'), dur(r.duration_s, '-'), resultText(r)]);
  }
  println(ctx.stdout, `jobs that ended on ${runnerName ?? 'this Mac'}, newest first (${shown.length} of ${records.length} kept; --json has them all):`);
  println(ctx.stdout, table.toString());
  return 0;
}

function resultText(r: JobRecord): string {
  if (r.give_up) return `${r.result}: ${r.give_up}`;
  return r.result === 'removed' ? `removed: ${r.reason}` : r.result;
}

function shortTime(iso: string): string {
  return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

function dur(s: number | null, none: string): string {
  if (s === null) return none;
  if (s < 90) return `${Math.round(s)}s`;
  if (s < 90 * 60) return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.round((s % 3600) / 60)).padStart(2, '0')}m`;
}
