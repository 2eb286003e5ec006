/**
 * The observed world the planner reasons about, and the actions it can ask for.
 *
 * Everything here is plain data: the reconciler fills an `Observed` from the ports each tick
 * (level-triggered), and `plan(observed, memory, config)` turns it, with what the host remembers
 * (core/memory.ts), into `Action`s.
 *
 * ## Gotchas
 * - A failed observation is `{ ok: false }`, never an empty list: the planner must be able to tell
 *   "nothing there" from "could not look" (fail closed).
 */
import type { Job, EventFeedStatus, RequestBudgetStatus, Runner, SweepStats, VmState } from './ports.js';
import type { Claim } from './names.js';
import type { FailureCause } from './memory.js';
import type { DecisionCause } from './lifecycle.js';
import type { BootProofView } from './proof-gate.js';

/** One of this host's VMs (its name parsed as ours), with what `tart get` and its run log said. */
export interface OurVm {
  name: string;
  claim: Claim;
  state: VmState;
  ramMb: number;
  cpu: number;
  /**
   * When it was started: from its run log, else from tart's own VM files (adapters/tart.ts);
   * undefined when neither is readable (the planner then counts from when it first saw the VM).
   */
  startedAt: number | undefined;
}

/** A VM on this Mac that is not ours: never touched, but a running one uses RAM and a VZ slot. */
export interface ForeignVm {
  name: string;
  state: VmState;
  ramMb: number;
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

export interface Observed {
  now: number;
  tart: Observation<TartObservation>;
  github: Observation<GitHubObservation>;
  /** Free space on the volume holding the VMs, in bytes; undefined when not measured. */
  freeDiskBytes?: number;
  /** Our GitHub client's request budget and back-off (read even when GitHub could not be). */
  githubBudget?: RequestBudgetStatus;
  /** The webhook delivery feed's state (docs/event-feed.md); absent when none is configured. */
  githubFeed?: EventFeedStatus;
  /** The cache dirs under `host.cache_max_gb`, as last measured; absent without a cap. */
  caches?: CacheObservation[];
  /** Set while this Mac is drained (`tart-fleet drain`, adapters/admission-state.ts): nothing new is admitted. */
  draining?: { since: number | undefined; note: string };
  /** What the daemon's boot proof found per image (core/proof-gate.ts); absent without a proof. */
  bootProof?: BootProofView;
}

/**
 * One cache dir's size as the daemon last measured it (a child process walks it: measuring a large
 * cache takes a while, so it is measured now and then, not every tick; see cache-keeper.ts).
 */
export interface CacheObservation {
  /** Absolute path, as the profiles' `cache_dir` names it. */
  dir: string;
  /** Allocated bytes when last measured; undefined until a first measurement has ended. */
  bytes: number | undefined;
  measuredAt: number | undefined;
  /** Since when the measurements say it is over `host.cache_max_gb` (undefined: under it, or not measured). */
  overCapSince: number | undefined;
  /** When the last prune ended (a prune that could not get under the cap is not retried at once). */
  lastPruneAt: number | undefined;
  /** A child process is measuring or pruning it right now. */
  busy: 'measuring' | 'pruning' | undefined;
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
      /** Why, as a code (metrics, filters); `reason` says it to people. */
      cause: DecisionCause;
      reason: string;
      /** The VM goes before its job ran: one more failed attempt for the job. */
      failure?: FailureCause;
      /** Set when this VM's idle runner is deleted just before: keep the VM if that found it busy after all. */
      keepIfRunnerBusy?: number;
    }
  | { kind: 'delete-runner'; runnerId: number; runnerName: string; cause: DecisionCause; reason: string }
  /** Prune a cache dir down to `maxBytes`, least recently used files first (no VM mounts it now). */
  | { kind: 'prune-cache'; dir: string; maxBytes: number; reason: string };

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
