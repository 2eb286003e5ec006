/**
 * The job history of this Mac: one JSON line per job that ended here, in `host.state_dir/history.jsonl`
 * (mode 0600), bounded to the last HISTORY_MAX entries. The daemon appends (daemon/history.ts);
 * `ls --history` reads.
 *
 * ## Gotchas
 * - Bounded without a second file: lines are appended until there are HISTORY_MAX + HISTORY_SLACK,
 *   then the newest HISTORY_MAX are rewritten atomically (temp file + rename). At 500 entries of
 *   ~400 bytes the file stays under ~250 KB, and a rewrite happens once every 100 jobs.
 * - A line that does not parse (a crash mid-append on a full disk) is skipped by the reader, never
 *   fatal: the history is a record for people, nothing decides on it.
 * - Appending never throws into the daemon: the caller logs and goes on (see daemon/history.ts).
 * - It holds repository, workflow and job names, times and results: no secret (0600 regardless, as
 *   every persistent file, contract.md).
 */
import { appendFileSync, chmodSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic-write.js';
import { statePaths } from '../config/paths.js';

export const HISTORY_MAX = 500;
export const HISTORY_SLACK = 100;

/** One job that ended on this Mac (snake_case: it is what `ls --history --json` prints). */
export interface JobRecord {
  /** When the VM went (or the creation ended), ISO. */
  ended_at: string;
  profile: string;
  job_id: number;
  repo: string | null;
  workflow: string | null;
  job: string | null;
  vm: string;
  /** From the job being queued to its admission here; null when not known (a VM adopted after a restart). */
  queue_wait_s: number | null;
  /** From admission to the runner started in its VM (claim, clone, boot); null when it never started or is not known. */
  boot_s: number | null;
  /** From the runner started (else the VM's start) to the VM deleted; null when it never ran. */
  duration_s: number | null;
  /**
   * How it ended: `done` (the job finished), `timeout` (the profile's timeout cut it off),
   * `boot-failed`, `runner-unused`, `runner-lost`, `vz-limit`, `gave-up`, `failed` (the creation
   * failed; it is retried), or `removed` (any other cleanup; `reason` says why).
   */
  result: string;
  /** The planner's or creator's words for it. */
  reason: string;
  /** When this Mac left the job alone after repeated failures: why. */
  give_up: string | null;
}

export class HistoryFile {
  readonly path: string;
  private lines: number | undefined;

  constructor(stateDir: string, private readonly max = HISTORY_MAX, private readonly slack = HISTORY_SLACK) {
    this.path = statePaths({ state_dir: stateDir }).history;
  }

  append(record: JobRecord): void {
    this.lines ??= this.readLines().length;
    mkdirSync(join(this.path, '..'), { recursive: true, mode: 0o700 });
    appendFileSync(this.path, `${JSON.stringify(record)}\n`, { mode: 0o600 });
    this.lines += 1;
    if (this.lines === 1) chmodSync(this.path, 0o600); // created now: not left to the umask
    if (this.lines > this.max + this.slack) {
      const keep = this.readLines().slice(-this.max);
      writeFileAtomic(this.path, keep.map((l) => `${l}\n`).join(''), 0o600);
      this.lines = keep.length;
    }
  }

  /** The newest `limit` records (default all kept), oldest first. */
  read(limit = this.max): JobRecord[] {
    const out: JobRecord[] = [];
    for (const line of this.readLines()) {
      try {
        out.push(JSON.parse(line) as JobRecord);
      } catch {
        // half a line from a crash: skipped (see the header)
      }
    }
    return out.slice(-Math.min(limit, this.max));
  }

  private readLines(): string[] {
    try {
      return readFileSync(this.path, 'utf8').split('\n').filter((l) => l.trim() !== '');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }
}
