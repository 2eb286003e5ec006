/**
 * The ports: the only ways the core reaches the outside world. Adapters implement them
 * (adapters/github.ts over Octokit, adapters/tart.ts over zx, adapters/ssh.ts over node-ssh);
 * tests of the core use in-memory fakes of the same interfaces.
 *
 * ## Gotchas
 * - Fail closed: every method either returns what it saw or throws. A port never turns an error into
 *   an empty list; the planner treats a failed observation as "unknown".
 * - Times are epoch milliseconds (numbers), never Date objects, so plans are easy to compare in tests.
 */
import type { FailedAttempts } from './memory.js';

// ---------------------------------------------------------------------------------------------
// GitHub

/** Job statuses as GitHub reports them (facts sheet §6). Only `queued` is demand. */
export type JobStatus = 'queued' | 'in_progress' | 'completed' | 'waiting' | 'requested' | 'pending';

export interface Job {
  id: number;
  runId: number;
  /** `owner/name` */
  repo: string;
  name: string;
  status: JobStatus;
  /** The `runs-on` labels, as written in the workflow. */
  labels: string[];
  /** When the job was queued (epoch ms). */
  createdAt: number;
  /** Set once a runner took the job. */
  runnerName: string | null;
  /** The workflow's name (the jobs API's `workflow_name`), for the job history; absent when not given. */
  workflow?: string;
  /**
   * True when the job's repository is public (from the repository list: `private: false`). Unknown
   * (an allow-list of repositories, or not read yet) is undefined: see core/public-jobs.ts.
   */
  repoPublic?: boolean;
}

export interface Runner {
  id: number;
  name: string;
  /** Label names, as GitHub returns them. */
  labels: string[];
  status: 'online' | 'offline';
  busy: boolean;
  /**
   * True once the runner has connected at least once (GitHub reports `os` other than "unknown" or a
   * `version`). A JIT runner that never connected can still be started with its JIT config.
   */
  everConnected: boolean;
}

export interface JitRunner {
  runner: Runner;
  /** The secret handed to the guest on stdin. Never logged, never in argv or a file. */
  encodedJitConfig: string;
}

/** What `generate-jitconfig` answered: the new runner, or 409 with the runner that holds the name. */
export type ClaimResult =
  | { kind: 'created'; jit: JitRunner }
  /** `holder` is undefined when the name was taken but the runner vanished before we looked it up. */
  | { kind: 'conflict'; holder: Runner | undefined };

export type DeleteRunnerResult = 'deleted' | 'not-found' | 'busy';

/** API cost of one observation, for the tick report and `ls`. */
export interface SweepStats {
  requests: number;
  notModified: number;
  rateLimitRemaining: number | null;
  rateLimitReset: number | null;
  /** Seconds since the least recently swept repository was last swept. */
  coldestRepoAgeSeconds: number;
  repositories: number;
  /**
   * Repositories not swept even once yet (a cold start works through them as the request budget
   * allows): while any is left, a job missing from `jobs` may simply not have been seen.
   */
  unsweptRepositories: number;
  /** Repositories swept by this call. */
  sweptRepositories: number;
}

export interface Demand {
  /**
   * Jobs whose status is `queued` or `in_progress` in the repositories swept. Queued ones are the demand;
   * in-progress ones tell which job each of our runners serves.
   */
  jobs: Job[];
  stats: SweepStats;
}

export interface GitHub {
  /** Queued and in-progress jobs of the org (or the allow-list). Throws if the sweep failed. */
  listJobs(): Promise<Demand>;
  /** Every org runner whose name starts with `tf-` (any host). Throws on failure, never returns a partial list. */
  listRunners(): Promise<Runner[]>;
  /** Fresh state of one job, to re-check it before spending a VM on it (`runId` lets it ask cheaply). */
  getJob(repo: string, jobId: number, runId?: number): Promise<Job>;
  /** Creates a JIT runner: the org-wide claim on a job. */
  createJitRunner(req: { name: string; labels: string[]; runnerGroupId: number }): Promise<ClaimResult>;
  deleteRunner(runnerId: number): Promise<DeleteRunnerResult>;
  /** This Mac's request budget and any back-off GitHub imposed (absent: no budget kept). */
  requestBudget?(): RequestBudgetStatus;
  /** One poll of the webhook delivery feed: how many repositories it made urgent (docs/event-feed.md). */
  pollFeed?(): Promise<number>;
  /** The event feed's state; undefined when none is configured. */
  feedStatus?(): EventFeedStatus | undefined;
}

/** The webhook delivery feed (adapters/github-hook-feed.ts), as `ls` and the metrics show it. */
export interface EventFeedStatus {
  /** `org hook 42` or `app hook`. */
  source: string;
  state: 'starting' | 'ok' | 'failing';
  /** Why it is failing, with the fix (null while ok). */
  problem: string | null;
  lastPollAt: number | null;
  /** Epoch ms of the last successful poll. */
  lastOkAt: number | null;
  /** `workflow_job` `queued` deliveries seen since the start. */
  queuedDeliveries: number;
  /** Hints given to the sweep (deliveries for repositories it sweeps). */
  hints: number;
  /** Deliveries for repositories the sweep does not read (ignored). */
  ignored: number;
  /** Deliveries GitHub marked throttled. */
  throttled: number;
  /** Polls and the requests they sent. */
  polls: number;
  requests: number;
}

/** `github.max_requests_per_minute` and GitHub's back-off, as `ls` and the metrics show them. */
export interface RequestBudgetStatus {
  perMinute: number;
  /** Requests sent in the last 60 s (304s and retries included). */
  lastMinute: number;
  /** Epoch ms until which nothing is sent, or null. */
  backoffUntil: number | null;
  backoffReason: string | null;
  /** Back-off episodes since the daemon started. */
  backoffs: number;
}

// ---------------------------------------------------------------------------------------------
// Tart

export type VmState = 'running' | 'stopped' | 'suspended';

export interface TartVm {
  name: string;
  state: VmState;
}

export interface TartVmDetails {
  name: string;
  state: VmState;
  os: 'darwin' | 'linux';
  cpu: number;
  ramMb: number;
}

export interface RunOptions {
  /**
   * Host directory shared into the guest as `cache` (`/Volumes/My Shared Files/cache`), read-only
   * when `readOnly`; undefined = no share at all (the guest sees no cache).
   */
  cache: { dir: string; readOnly: boolean } | undefined;
  /** File that receives tart run's stdout and stderr. */
  logFile: string;
  netSoftnet: boolean;
  netSoftnetAllow: string[];
  netSoftnetBlock: string[];
  rootDiskOpts: string;
}

export interface Tart {
  /** Local VMs (not OCI cache entries). */
  list(): Promise<TartVm[]>;
  get(name: string): Promise<TartVmDetails>;
  clone(source: string, name: string): Promise<void>;
  set(name: string, opts: { cpu: number; ramMb: number; randomMac: boolean }): Promise<void>;
  /** Starts `tart run` detached and headless; resolves once it is started (not when the VM stops). */
  run(name: string, opts: RunOptions): Promise<void>;
  /** When `run` last started this VM (epoch ms), from its run log; undefined if never run by us. */
  startedAt(name: string, logFile: string): Promise<number | undefined>;
  ip(name: string, waitSeconds: number): Promise<string>;
  stop(name: string, timeoutSeconds: number): Promise<void>;
  delete(name: string): Promise<void>;
  version(): Promise<string>;
}

/** Classes of tart failure the scheduler reacts to differently (facts sheet §1, Appendix A). */
export type TartErrorKind =
  | 'vm-missing'
  | 'already-running'
  | 'not-running'
  | 'is-running'
  | 'vz-limit'
  | 'no-ip'
  | 'out-of-disk'
  | 'tart-missing'
  | 'timeout'
  | 'usage'
  | 'other';

export class TartError extends Error {
  constructor(
    readonly kind: TartErrorKind,
    /** The tart subcommand and its arguments (never secrets: tart gets none). */
    readonly command: string[],
    readonly exitCode: number | null,
    /** First line of stderr. */
    readonly stderrLine: string,
    advice?: string,
  ) {
    super(`tart ${command.join(' ')} failed (${kind}, exit ${exitCode ?? 'none'}): ${stderrLine}${advice ? ` — ${advice}` : ''}`);
    this.name = 'TartError';
  }
}

// ---------------------------------------------------------------------------------------------
// Guest

/** A runner command the guest accepted. */
export interface RunnerLaunch {
  /**
   * Settles when the command ends: resolves on exit 0, rejects with a GuestError otherwise (also
   * when the connection drops). A runner run in the foreground keeps it pending for the whole job:
   * that is not a failure, and nobody has to wait for it.
   */
  exited: Promise<void>;
}

/**
 * Which guest to start the runner in. `vm` is the name tart knows it by: delivery through `tart
 * exec` addresses it by that name only, never by looking an IP up (an IP can belong to another VM).
 * `ip` is what `tart ip <vm>` answered (SSH delivery); `image` is the golden image it was cloned
 * from (the boot proof decides delivery per image).
 */
export interface GuestTarget {
  vm: string;
  ip: string;
  image: string;
}

export interface Guest {
  /**
   * Waits until the guest answers (bounded by `deadline`, epoch ms), then runs `vm.runner_command`
   * once with `encodedJitConfig` on its stdin and `env` exported in front of it.
   * Resolves as soon as the guest accepted the command; rejects if it could not be started.
   * `vm`: the VM's name, when the caller knows it. A guest reached through tart (exec delivery) then
   * targets that VM, never whichever running VM resolves to `ip` (audit turn4-security N5).
   */
  launchRunner(target: GuestTarget, encodedJitConfig: string, deadline: number, env: Record<string, string>): Promise<RunnerLaunch>;
}

// ---------------------------------------------------------------------------------------------
// Host

/** Free space on the volume that holds the VMs (`$TART_HOME`). */
export interface DiskSpace {
  freeBytes(): Promise<number>;
}

// ---------------------------------------------------------------------------------------------
// Memory that survives a restart

/** Failure counts as stored: claimKey → counts, plus the job they are for. */
export interface PersistedMemory {
  version: 1;
  failures: Record<string, FailedAttempts & { jobId: number }>;
}

/** Where failure counts survive a restart (adapters/state-file.ts writes a JSON file; daemon/host-memory.ts has a volatile one). */
export interface MemoryStore {
  load(): PersistedMemory | undefined;
  save(state: PersistedMemory): void;
}

// ---------------------------------------------------------------------------------------------
// Caches

/** What `--json` prints: one object. */
export interface CachePruneReport {
  dir: string;
  dry_run: boolean;
  /** Allocated bytes in the cache dir before pruning (measured by the `--max-gb` walk), else null. */
  bytes_before: number | null;
  /** After pruning (or, dry, after what it would remove); null without `--max-gb`. */
  bytes_after: number | null;
  freed_bytes: number;
  files_removed: number;
  dirs_removed: number;
  /** Entries that could not be removed (or were replaced while pruning, and kept). */
  failed: number;
}

/** Measures and prunes a cache dir (adapters/cache-tool.ts runs `tart-fleet cache prune` as a child). */
export interface CacheTool {
  /** Allocated bytes of `dir` (0 if it does not exist). */
  measure(dir: string): Promise<number>;
  /** Prunes `dir`, least recently used first, to at most `maxBytes`. */
  prune(dir: string, maxBytes: number): Promise<CachePruneReport>;
}

/** Per-job copies of a cache dir (adapters/cache-clone.ts). Keyed by the VM the copy is mounted into. */
export interface CacheClones {
  /** Makes a private copy of `source` for one job; returns its path (mount it read-write). */
  make(source: string, vmName: string): Promise<string>;
  /** Removes the copy made for the VM `vmName`, if any. */
  removeFor(vmName: string): Promise<void>;
  /** Deletes a copy `make` returned. Refuses anything else. */
  remove(path: string): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Clock

export interface Clock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export type GuestErrorKind = 'unreachable' | 'auth' | 'host-key' | 'command-failed';

export class GuestError extends Error {
  constructor(readonly kind: GuestErrorKind, message: string) {
    super(message);
    this.name = 'GuestError';
  }
}
