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

export interface Decision {
  /** Stop (if running) and delete the VM. */
  deleteVm: boolean;
  deleteRunner: boolean;
  reason: string;
  /** The VM goes before its job ran: counts toward the job's bounded give-up (core/memory.ts). */
  failure?: FailureCause;
}

const keep = (reason: string): Decision => ({ deleteVm: false, deleteRunner: false, reason });
const vmOnly = (reason: string): Decision => ({ deleteVm: true, deleteRunner: false, reason });
const runnerOnly = (reason: string): Decision => ({ deleteVm: false, deleteRunner: true, reason });
const both = (reason: string): Decision => ({ deleteVm: true, deleteRunner: true, reason });

type Rule = (job: JobPhase) => Decision;

const ALWAYS = (d: Decision): Rule => () => d;

/** An idle or registered runner whose job vanished, with nothing else of its profile queued. */
const unlessGhost = (d: Decision): Rule => (job) =>
  job === 'gone' ? both('its job is no longer queued and no other job of its profile waits (ghost demand)') : d;

const RULES: Record<VmPhase, Record<RunnerPhase, Rule>> = {
  absent: {
    unknown: ALWAYS(keep('GitHub not read this tick; nothing to do without a VM')),
    absent: ALWAYS(keep('nothing exists for this claim')),
    registered: (job) => runnerOnly(job === 'queued' ? 'claimed but no VM (left over from a crash); the job will be claimed again' : 'claimed but no VM, and its job no longer waits'),
    idle: ALWAYS(runnerOnly('runner online with no VM behind it')),
    'idle-expired': ALWAYS(runnerOnly('runner online with no VM behind it')),
    busy: ALWAYS(runnerOnly('runner busy but its VM is gone')),
    updating: ALWAYS(runnerOnly('runner offline and its VM is gone')),
    lost: ALWAYS(runnerOnly('runner offline and its VM is gone')),
  },
  creating: {
    unknown: ALWAYS(keep('being created')),
    absent: ALWAYS(keep('being created')),
    registered: ALWAYS(keep('being created')),
    idle: ALWAYS(keep('being created')),
    'idle-expired': ALWAYS(keep('being created')),
    busy: ALWAYS(keep('being created')),
    updating: ALWAYS(keep('being created')),
    lost: ALWAYS(keep('being created')),
  },
  stopped: {
    unknown: ALWAYS(vmOnly('VM is stopped (guest powered off or never started)')),
    absent: ALWAYS(vmOnly('VM is stopped and its runner is gone: job finished')),
    registered: ALWAYS(both('VM is stopped and its runner never connected')),
    idle: ALWAYS(both('VM is stopped but its runner still shows idle')),
    'idle-expired': ALWAYS(both('VM is stopped but its runner still shows idle')),
    // Usually the job just ended (GitHub was read a moment before the guest powered off); else the VM died mid-job.
    busy: ALWAYS(both('VM is stopped while its runner still shows busy (job just ended, or the VM died mid-job)')),
    updating: ALWAYS(both('VM is stopped and its runner is offline')),
    lost: ALWAYS(both('VM is stopped and its runner is offline')),
  },
  booting: {
    unknown: ALWAYS(keep('booting; GitHub not read this tick')),
    absent: ALWAYS(vmOnly('runner is gone: job finished or runner removed')),
    registered: unlessGhost(keep('booting; waiting for the runner to connect')),
    idle: unlessGhost(keep('runner online, waiting for a job')),
    'idle-expired': ALWAYS({ ...both('runner took no job within the registration timeout'), failure: 'runner-unused' }),
    busy: ALWAYS(keep('running a job')),
    updating: ALWAYS(keep('runner restarting (self-update?); waiting for it to come back')),
    lost: ALWAYS({ ...both('runner connected, then stayed offline without a job'), failure: 'runner-lost' }),
  },
  running: {
    unknown: ALWAYS(keep('running; GitHub not read this tick')),
    absent: ALWAYS(vmOnly('runner is gone: job finished or runner removed')),
    registered: ALWAYS({ ...both('runner never connected within the boot timeout'), failure: 'boot-failed' }),
    idle: unlessGhost(keep('runner online, waiting for a job')),
    'idle-expired': ALWAYS({ ...both('runner took no job within the registration timeout'), failure: 'runner-unused' }),
    busy: ALWAYS(keep('running a job')),
    updating: ALWAYS(keep('runner restarting (self-update?); waiting for it to come back')),
    lost: ALWAYS({ ...both('runner connected, then stayed offline without a job'), failure: 'runner-lost' }),
  },
  overdue: {
    unknown: ALWAYS(vmOnly("VM is past its profile's timeout")),
    absent: ALWAYS(vmOnly("VM is past its profile's timeout")),
    registered: ALWAYS(both("VM is past its profile's timeout")),
    idle: ALWAYS(both("VM is past its profile's timeout")),
    'idle-expired': ALWAYS(both("VM is past its profile's timeout")),
    busy: ALWAYS(both("VM is past its profile's timeout; the job is cut off")),
    updating: ALWAYS(both("VM is past its profile's timeout")),
    lost: ALWAYS(both("VM is past its profile's timeout")),
  },
};

export function decide(vm: VmPhase, runner: RunnerPhase, job: JobPhase): Decision {
  return RULES[vm][runner](job);
}
