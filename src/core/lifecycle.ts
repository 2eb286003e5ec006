/**
 * The transition table: for one job claim on this host, what to do given the state of its VM, its
 * runner and its job. Orchard-style, but the table only *decides*; apply() carries it out.
 *
 * Every combination of the three phases has a rule: `RULES` is a total record over VmPhase ×
 * RunnerPhase, so adding a phase without rules is a compile error, and the exhaustiveness test walks
 * every VmPhase × RunnerPhase × JobPhase and checks each gets a decision with a reason.
 *
 * ## Gotchas
 * - `runner: 'unknown'` / `job: 'unknown'` mean GitHub could not be read this tick. Then only facts
 *   from tart and the clock may delete anything: a stopped VM (it runs nothing) and a VM past its
 *   profile's timeout. Nothing is deleted on evidence this tick failed to get.
 * - The runner is always created before its VM (the claim comes first), so a running VM whose runner
 *   is gone has finished its job (JIT runners are removed by GitHub after one job) — or was reaped.
 * - `booting` keeps a VM whose runner has not connected yet, even when this process is not creating
 *   it (e.g. after a restart): the runner may have been started just before; the boot timeout ends it.
 */
import type { FailureCause } from './memory.js';

/** The VM of a claim. `creating` wins over what tart shows: the creation owns it. */
export const VM_PHASES = ['absent', 'creating', 'stopped', 'booting', 'running', 'overdue'] as const;
export type VmPhase = (typeof VM_PHASES)[number];

/**
 * The runner of a claim, as GitHub shows it:
 * registered = created, never connected; idle = online, no job; idle-expired = idle past the
 * registration timeout; busy = running a job; updating = connected once, offline for less than the
 * self-update grace (an outdated runner downloads, exits and restarts on every boot, and GitHub's
 * list lags); lost = connected once, offline past that grace and not busy.
 */
export const RUNNER_PHASES = ['unknown', 'absent', 'registered', 'idle', 'idle-expired', 'busy', 'updating', 'lost'] as const;
export type RunnerPhase = (typeof RUNNER_PHASES)[number];

/**
 * The job the claim was made for: queued; started (in progress, on whichever runner GitHub chose);
 * gone (neither queued nor in progress, and no other job of the profile is queued, so an idle runner of
 * this claim has nothing left to take); unknown (GitHub not read).
 */
export const JOB_PHASES = ['unknown', 'queued', 'started', 'gone'] as const;
export type JobPhase = (typeof JOB_PHASES)[number];

/**
 * Why a decision was taken, as a code: metrics labels, filters and tests use this, never the
 * sentence in `reason` (which is for people and may be reworded freely). The first group keeps
 * everything; the second deletes something.
 */
export const DECISION_CAUSES = [
  'nothing', 'github-unread', 'being-created', 'booting', 'waiting-for-job', 'running-job', 'runner-updating',
  'no-vm', 'vm-stopped', 'job-done', 'runner-offline', 'ghost-demand', 'runner-unused', 'runner-lost', 'boot-failed', 'timeout',
] as const;
export type DecisionCause = (typeof DECISION_CAUSES)[number];

export interface Decision {
  /** Stop (if running) and delete the VM. */
  deleteVm: boolean;
  deleteRunner: boolean;
  cause: DecisionCause;
  reason: string;
  /** The VM goes before its job ran: counts toward the job's bounded give-up (core/memory.ts). */
  failure?: FailureCause;
}

const keep = (cause: DecisionCause, reason: string): Decision => ({ deleteVm: false, deleteRunner: false, cause, reason });
const vmOnly = (cause: DecisionCause, reason: string): Decision => ({ deleteVm: true, deleteRunner: false, cause, reason });
const runnerOnly = (cause: DecisionCause, reason: string): Decision => ({ deleteVm: false, deleteRunner: true, cause, reason });
const both = (cause: DecisionCause, reason: string): Decision => ({ deleteVm: true, deleteRunner: true, cause, reason });
/** Both go before the job ran: the cause is also one more failed attempt for the job. */
const failed = (cause: DecisionCause & FailureCause, reason: string): Decision => ({ ...both(cause, reason), failure: cause });

type Rule = (job: JobPhase) => Decision;

const ALWAYS = (d: Decision): Rule => () => d;

/** An idle or registered runner whose job vanished, with nothing else of its profile queued. */
const unlessGhost = (d: Decision): Rule => (job) =>
  job === 'gone' ? both('ghost-demand', 'its job is no longer queued and no other job of its profile waits (ghost demand)') : d;

const RULES: Record<VmPhase, Record<RunnerPhase, Rule>> = {
  absent: {
    unknown: ALWAYS(keep('github-unread', 'GitHub not read this tick; nothing to do without a VM')),
    absent: ALWAYS(keep('nothing', 'nothing exists for this claim')),
    registered: (job) => runnerOnly('no-vm', job === 'queued' ? 'claimed but no VM (left over from a crash); the job will be claimed again' : 'claimed but no VM, and its job no longer waits'),
    idle: ALWAYS(runnerOnly('no-vm', 'runner online with no VM behind it')),
    'idle-expired': ALWAYS(runnerOnly('no-vm', 'runner online with no VM behind it')),
    busy: ALWAYS(runnerOnly('no-vm', 'runner busy but its VM is gone')),
    updating: ALWAYS(runnerOnly('no-vm', 'runner offline and its VM is gone')),
    lost: ALWAYS(runnerOnly('no-vm', 'runner offline and its VM is gone')),
  },
  creating: {
    unknown: ALWAYS(keep('being-created', 'being created')),
    absent: ALWAYS(keep('being-created', 'being created')),
    registered: ALWAYS(keep('being-created', 'being created')),
    idle: ALWAYS(keep('being-created', 'being created')),
    'idle-expired': ALWAYS(keep('being-created', 'being created')),
    busy: ALWAYS(keep('being-created', 'being created')),
    updating: ALWAYS(keep('being-created', 'being created')),
    lost: ALWAYS(keep('being-created', 'being created')),
  },
  stopped: {
    unknown: ALWAYS(vmOnly('vm-stopped', 'VM is stopped (guest powered off or never started)')),
    absent: ALWAYS(vmOnly('job-done', 'VM is stopped and its runner is gone: job finished')),
    registered: ALWAYS(both('vm-stopped', 'VM is stopped and its runner never connected')),
    idle: ALWAYS(both('vm-stopped', 'VM is stopped but its runner still shows idle')),
    'idle-expired': ALWAYS(both('vm-stopped', 'VM is stopped but its runner still shows idle')),
    // Usually the job just ended (GitHub was read a moment before the guest powered off); else the VM died mid-job.
    busy: ALWAYS(both('job-done', 'VM is stopped while its runner still shows busy (job just ended, or the VM died mid-job)')),
    updating: ALWAYS(both('runner-offline', 'VM is stopped and its runner is offline')),
    lost: ALWAYS(both('runner-offline', 'VM is stopped and its runner is offline')),
  },
  booting: {
    unknown: ALWAYS(keep('github-unread', 'booting; GitHub not read this tick')),
    absent: ALWAYS(vmOnly('job-done', 'runner is gone: job finished or runner removed')),
    registered: unlessGhost(keep('booting', 'booting; waiting for the runner to connect')),
    idle: unlessGhost(keep('waiting-for-job', 'runner online, waiting for a job')),
    'idle-expired': ALWAYS(failed('runner-unused', 'runner took no job within the registration timeout')),
    busy: ALWAYS(keep('running-job', 'running a job')),
    updating: ALWAYS(keep('runner-updating', 'runner restarting (self-update?); waiting for it to come back')),
    lost: ALWAYS(failed('runner-lost', 'runner connected, then stayed offline without a job')),
  },
  running: {
    unknown: ALWAYS(keep('github-unread', 'running; GitHub not read this tick')),
    absent: ALWAYS(vmOnly('job-done', 'runner is gone: job finished or runner removed')),
    registered: ALWAYS(failed('boot-failed', 'runner never connected within the boot timeout')),
    idle: unlessGhost(keep('waiting-for-job', 'runner online, waiting for a job')),
    'idle-expired': ALWAYS(failed('runner-unused', 'runner took no job within the registration timeout')),
    busy: ALWAYS(keep('running-job', 'running a job')),
    updating: ALWAYS(keep('runner-updating', 'runner restarting (self-update?); waiting for it to come back')),
    lost: ALWAYS(failed('runner-lost', 'runner connected, then stayed offline without a job')),
  },
  overdue: {
    unknown: ALWAYS(vmOnly('timeout', "VM is past its profile's timeout")),
    absent: ALWAYS(vmOnly('timeout', "VM is past its profile's timeout")),
    registered: ALWAYS(both('timeout', "VM is past its profile's timeout")),
    idle: ALWAYS(both('timeout', "VM is past its profile's timeout")),
    'idle-expired': ALWAYS(both('timeout', "VM is past its profile's timeout")),
    busy: ALWAYS(both('timeout', "VM is past its profile's timeout; the job is cut off")),
    updating: ALWAYS(both('timeout', "VM is past its profile's timeout")),
    lost: ALWAYS(both('timeout', "VM is past its profile's timeout")),
  },
};

export function decide(vm: VmPhase, runner: RunnerPhase, job: JobPhase): Decision {
  return RULES[vm][runner](job);
}
