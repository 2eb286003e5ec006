/**
 * Keeps the job history (adapters/history-file.ts): what ran on this Mac, how long it waited, booted
 * and ran, and how it ended. The reconciler tells it three things: a job was admitted, its creation
 * ended (with the Creator's outcome), and a VM of ours was deleted (with the planner's reason).
 *
 * ## Lifecycle
 * admitted → creationEnded('started') → vmDeleted: one record, written when the VM goes.
 * A creation that ends otherwise (`gave-up`, `failed`, `vz-limit`) is recorded then; one that never
 * got the job (`claimed-elsewhere`, `job-not-queued`) is not a job of this Mac and is not recorded
 * (the metrics' creations_total counts those).
 *
 * ## Gotchas
 * - What it knows between admission and deletion is in memory only: a VM adopted after a restart is
 *   still recorded when it goes, with what the VM's name, tart and GitHub tell (no queue wait or
 *   boot time then).
 * - The result comes from the planner's reason words (core/lifecycle.ts) or its failure cause; a
 *   reason it does not know is `removed`, with the words kept in `reason`.
 * - Writing never fails a tick: an error is logged and the record is dropped.
 */
import type { Config } from '../config/types.js';
import type { Logger } from '../core/logger.js';
import { attemptsUsedUp, describeCauses, type Remembered } from '../core/memory.js';
import type { Action, Observed } from '../core/model.js';
import { claimKey, type Claim } from '../core/names.js';
import type { Job } from '../core/ports.js';
import { HistoryFile, type JobRecord } from '../adapters/history-file.js';
import type { CreationOutcome } from './report.js';

type CreateAction = Extract<Action, { kind: 'create' }>;
type DeleteVmAction = Extract<Action, { kind: 'delete-vm' }>;

interface Pending {
  job: Job;
  vm: string;
  admittedAt: number;
  runnerStartedAt: number | undefined;
}

export class JobHistory {
  private readonly pending = new Map<string, Pending>();
  private ended: JobRecord[] = [];

  private readonly file: HistoryFile;

  constructor(private readonly deps: { config: Config; logger: Logger; file?: HistoryFile }) {
    this.file = deps.file ?? new HistoryFile(deps.config.host.state_dir);
  }

  admitted(action: CreateAction, now: number): void {
    this.pending.set(claimKey(action.claim), { job: action.job, vm: action.vmName, admittedAt: now, runnerStartedAt: undefined });
  }

  creationEnded(claim: Claim, outcome: CreationOutcome, now: number, memory: Remembered): void {
    const key = claimKey(claim);
    const p = this.pending.get(key);
    if (!p) return;
    if (outcome === 'started') {
      p.runnerStartedAt = now;
      return;
    }
    this.pending.delete(key);
    if (outcome === 'claimed-elsewhere' || outcome === 'job-not-queued') return;
    const reason: string = { 'gave-up': 'every boot attempt failed (vm.max_boot_attempts)', 'vz-limit': 'Virtualization.framework VM limit reached', failed: 'the creation failed; the job is claimed again' }[outcome];
    this.write({
      ...this.about(claim, p, undefined, undefined, memory), ended_at: new Date(now).toISOString(), boot_s: null, duration_s: null,
      result: outcome, reason, give_up: outcome === 'gave-up' ? this.giveUp(key, memory) ?? reason : null,
    });
  }

  /** After a VM of ours was deleted; `world` is the tick's observation, `memory` the state after the deletion was counted. */
  vmDeleted(action: DeleteVmAction, world: Observed, memory: Remembered, now: number): void {
    const key = claimKey(action.claim);
    const p = this.pending.get(key);
    this.pending.delete(key);
    const vm = world.tart.ok ? world.tart.value.ours.find((v) => v.name === action.vmName) : undefined;
    const ranFrom = p?.runnerStartedAt ?? vm?.startedAt;
    const ran = p === undefined || p.runnerStartedAt !== undefined;
    const job = p?.job ?? (world.github.ok ? world.github.value.jobs.find((j) => j.id === action.claim.jobId) : undefined);
    const giveUp = action.failure ? this.giveUp(key, memory) : undefined;
    this.write({
      ...this.about(action.claim, p, job, action.vmName, memory), ended_at: new Date(now).toISOString(),
      boot_s: p?.runnerStartedAt !== undefined ? seconds(p.runnerStartedAt - p.admittedAt) : null,
      duration_s: ran && ranFrom !== undefined ? seconds(now - ranFrom) : null,
      result: resultOf(action), reason: action.reason, give_up: giveUp ?? null,
    });
  }

  /** Records written since the last call (for the metrics). */
  takeEnded(): JobRecord[] {
    return this.ended.splice(0);
  }

  private about(claim: Claim, p: Pending | undefined, job: Job | undefined, vmName: string | undefined, memory: Remembered): Pick<JobRecord, 'profile' | 'job_id' | 'repo' | 'workflow' | 'job' | 'vm' | 'queue_wait_s'> {
    const j = p?.job ?? job;
    return {
      profile: claim.profile,
      job_id: claim.jobId,
      repo: j?.repo ?? memory.failures.get(claimKey(claim))?.repo ?? null,
      workflow: j?.workflow ?? null,
      job: j?.name ?? null,
      vm: vmName ?? p?.vm ?? '',
      queue_wait_s: p && p.job.createdAt > 0 ? seconds(p.admittedAt - p.job.createdAt) : null,
    };
  }

  private giveUp(key: string, memory: Remembered): string | undefined {
    const f = memory.failures.get(key);
    if (!f || !attemptsUsedUp(f.causes, this.deps.config.vm.max_boot_attempts)) return undefined;
    return `gave up after ${f.causes.length} failed attempts on this Mac (${describeCauses(f.causes)})`;
  }

  private write(record: JobRecord): void {
    this.ended.push(record);
    try {
      this.file.append(record);
    } catch (err) {
      this.deps.logger.warn('could not write the job history', { file: this.file.path, error: (err as Error).message });
    }
  }
}

function seconds(ms: number): number {
  return Math.max(0, Math.round(ms / 100) / 10);
}

/** The decision's cause code (core/lifecycle.ts) as one short result; never read from the prose. */
function resultOf(action: DeleteVmAction): string {
  if (action.failure) return action.failure;
  switch (action.cause) {
    case 'timeout':
    case 'ghost-demand':
      return action.cause;
    case 'job-done':
      return 'done';
    default:
      return 'removed';
  }
}
