/**
 * The observed world the planner reasons about, and the actions it can ask for.
 *
 * Everything here is plain data: the reconciler fills an `Observed` from the ports each tick
 * (level-triggered: nothing is remembered between ticks except what this process is doing right now,
 * `creating`, and a per-job count of failed boots), `plan()` turns it into `Action`s.
 *
 * ## Gotchas
 * - A failed observation is `{ ok: false }`, never an empty list: the planner must be able to tell
 *   "nothing there" from "could not look" (fail closed).
 * - `creating` is snapshotted *before* the observation starts, so a creation that finishes while
 *   we observe still counts as creating: its fresh runner is never mistaken for a leftover.
 */
import type { Job, Runner, SweepStats, VmState } from './ports.js';
import type { Claim } from './names.js';

/** One of this host's VMs (its name parsed as ours), with what `tart get` and its run log said. */
export interface OurVm {
  name: string;
  claim: Claim;
  state: VmState;
  memoryMb: number;
  cpu: number;
  /** When `tart run` last started it (from its run log); undefined if we never ran it. */
  startedAt: number | undefined;
}

/** A VM on this Mac that is not ours: never touched, but a running one uses RAM and a VZ slot. */
export interface ForeignVm {
  name: string;
  state: VmState;
  memoryMb: number;
  os: 'darwin' | 'linux';
}

export type Observation<T> = { ok: true; value: T } | { ok: false; error: string };

export interface TartObservation {
  ours: OurVm[];
  foreign: ForeignVm[];
}

export interface GitHubObservation {
  /** Queued and in-progress jobs. */
  jobs: Job[];
  /** Every `tf-` runner of the org, whichever Mac owns it. */
  runners: Runner[];
  stats: SweepStats;
}

/** A creation this process is carrying out right now (claim → clone → boot → start runner). */
export interface Creating {
  claim: Claim;
  vmName: string;
  runnerName: string;
  /** Profile RAM reserved for it until its VM shows up in `tart list`. */
  memoryMb: number;
  os: 'macos' | 'linux';
  startedAt: number;
}

export interface Observed {
  now: number;
  /**
   * When this daemon process started. A VM started before it whose runner has not connected can
   * only have been mid-creation in a process that died; after a short grace it is past booting.
   */
  processStartedAt: number;
  tart: Observation<TartObservation>;
  github: Observation<GitHubObservation>;
  /** Keyed by claimKey (profile-jobId). */
  creating: Map<string, Creating>;
  /** Failed boots per claimKey in this process; at `vm.max_boot_attempts` the job is left alone. */
  failedBoots: Map<string, number>;
  /**
   * Runners made for a job that took no job within the registration timeout, per claimKey in this
   * process. While that job stays queued this means GitHub will not route it to our runner group
   * (a public repository, a group limited to selected repositories or workflows); at
   * MAX_UNUSED_RUNNERS the job is left alone instead of cycling VMs for it forever.
   */
  unusedRunners: Map<string, number>;
  /** Set while tart reports the VZ limit: no new VMs until this time (epoch ms). */
  admissionPausedUntil?: { until: number; reason: string };
}

export type Action =
  | {
      kind: 'create';
      claim: Claim;
      job: Job;
      vmName: string;
      runnerName: string;
      reason: string;
    }
  | {
      kind: 'delete-vm';
      vmName: string;
      claim: Claim;
      stop: boolean;
      reason: string;
      bootFailed?: true;
      runnerUnused?: true;
      /** Set when this VM's idle runner is deleted just before: keep the VM if that found it busy after all. */
      keepIfRunnerBusy?: number;
    }
  | { kind: 'delete-runner'; runnerId: number; runnerName: string; reason: string };

export interface LedgerView {
  used_mb: number;
  ceiling_mb: number;
  vms: number;
  max_vms: number;
  /** Part of used_mb taken by running VMs that are not ours. */
  foreign_mb: number;
}

export interface QueueEntry {
  repo: string;
  job_id: number;
  name: string;
  profile: string | null;
  labels: string[];
  waiting_s: number;
  reason: string;
}

export interface Plan {
  actions: Action[];
  /** Undefined when tart could not be observed (the ledger is unknown then). */
  ledger: LedgerView | undefined;
  /** Every queued job seen, with why it still waits (or that it is being admitted now). */
  queue: QueueEntry[];
  /** Why nothing at all was planned, when that is the case (e.g. observation failed). */
  blocked: string[];
}
