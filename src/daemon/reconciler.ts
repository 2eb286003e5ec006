/**
 * One reconcile tick: snapshot the host's memory → observe the world in parallel (GitHub jobs and
 * runners, tart list + get + run logs; `get` once per running VM; free disk; cache sizes as last
 * measured) → plan(world, memory) → apply. Deletions are carried out in the tick; creations are
 * handed to the Creator, and cache measurements and prunes to the CacheKeeper (child processes):
 * both run on in the background.
 *
 * ## Lifecycle
 * The loop (loop.ts) calls `tick()` every poll interval. `ls --live` and `run --dry-run` call
 * `observe()` and `plan()` only (they never change memory). Tests call `drain()` to wait for
 * creations under way.
 *
 * ## Gotchas
 * - Memory is snapshotted *before* observing (see core/memory.ts), so a creation finishing
 *   mid-observation is still seen as creating, never as a leftover.
 * - apply() never decides: it carries actions out one by one, logs each with its reason, reports
 *   failed attempts to HostMemory, and treats "already gone" answers as success (deletion is
 *   idempotent).
 * - An observation that fails is "unknown": the tick is reported failed and plan() fails closed.
 * - `runningDetails` is an observation cache (tart get of a running VM cannot change), not memory
 *   the planner reasons with.
 */
import { basename, join } from 'node:path';
import type { Logger } from '../core/logger.js';
import type { Action, Observation, Observed, OurVm, Plan, ForeignVm, GitHubObservation, TartObservation } from '../core/model.js';
import type { Remembered } from '../core/memory.js';
import { parseVmName } from '../core/names.js';
import { plan as makePlan } from '../core/plan.js';
import type { DiskSpace, SweepStats, TartVmDetails, VmState } from '../core/ports.js';
import { Creator, type CreationOutcome, type CreatorDeps } from './creator.js';
import { HostMemory } from './host-memory.js';
import { JsonStateFile } from '../adapters/state-file.js';
import { CacheCloneDir } from '../adapters/cache-clone.js';
import { RunLogs } from '../adapters/run-logs.js';
import { ignoring, stopAndDelete } from './vm-removal.js';
import { CacheKeeper } from './cache-keeper.js';
import { ChildCacheTool, type CacheTool } from '../adapters/cache-tool.js';

export interface ReconcilerDeps extends Omit<CreatorDeps, 'memory' | 'cacheClones'> {
  /** Default: persisted in `host.state_dir/memory.json`. */
  memory?: HostMemory;
  /** Default: under `host.state_dir/cache-clones`. */
  cacheClones?: CacheCloneDir;
  /** Free space where the VMs live; without it the disk floor is not checked. */
  disk?: DiskSpace;
  /** Measures and prunes cache dirs under host.cache_max_gb. Default: `tart-fleet cache prune` as a child process. */
  cacheTool?: CacheTool;
}

/** The state file of the daemon's memory (failure counts and give-ups). */
export function memoryFile(stateDir: string): string {
  return join(stateDir, 'memory.json');
}

/**
 * How often the run logs are looked through for ones past `host.vm_log_retention_hours`: not every
 * tick, since that stats every log of a gone VM (a busy Mac keeps hundreds within a day's retention)
 * to remove at most one now and then. A log goes at most this much later than its retention says.
 */
export const RUN_LOG_CHECK_EVERY_MS = 10 * 60_000;

export interface TickReport {
  tick: number;
  /** False when an observation failed or an action failed. */
  ok: boolean;
  plan: Plan;
  admitted: number;
  deletedVms: number;
  deletedRunners: number;
  failures: string[];
  github?: SweepStats;
  durationMs: number;
  /** What this tick observed and remembered: with `plan`, everything `ls` and the metrics show. */
  world: Observed;
  memory: Remembered;
  /** Creations that ended since the previous tick's report, for the metrics. */
  creationsEnded: CreationEnded[];
}

export interface CreationEnded {
  profile: string;
  /** `claimed-elsewhere` is a 409 on the claim: another Mac has the job. */
  outcome: CreationOutcome;
  /** From admission to the runner started (or to giving up). */
  durationMs: number;
}

export class Reconciler {
  readonly memory: HostMemory;
  private readonly cacheClones: CacheCloneDir;
  private readonly runLogs: RunLogs;
  private readonly caches: CacheKeeper;
  private readonly creations = new Set<Promise<CreationOutcome>>();
  private ended: CreationEnded[] = [];
  private readonly creator: Creator;
  private ticks = 0;
  /** When the run logs were last looked through (collectOldRunLogs); undefined before the first time. */
  private runLogsCheckedAt: number | undefined;
  /** `tart get` answers for VMs that were running when read (see details()). */
  private readonly runningDetails = new Map<string, TartVmDetails>();

  constructor(private readonly deps: ReconcilerDeps) {
    const { config, clock, logger } = deps;
    this.memory = deps.memory ?? new HostMemory(clock.now(), new JsonStateFile(memoryFile(config.host.state_dir)), logger);
    this.cacheClones = deps.cacheClones ?? new CacheCloneDir(join(config.host.state_dir, 'cache-clones'));
    this.runLogs = new RunLogs(config.host.log_dir, config.github.runner_name);
    this.caches = new CacheKeeper({ config, tool: deps.cacheTool ?? new ChildCacheTool(), clock, logger: logger.child({ component: 'cache' }) });
    this.creator = new Creator({ ...deps, memory: this.memory, cacheClones: this.cacheClones });
  }

  /** Memory first (see the header), then the world. */
  async observe(): Promise<{ world: Observed; memory: Remembered }> {
    const memory = this.memory.snapshot();
    const [tart, github, freeDiskBytes] = await Promise.all([this.observeTart(), this.observeGitHub(), this.observeDisk()]);
    const githubBudget = this.deps.github.requestBudget?.();
    const githubFeed = this.deps.github.feedStatus?.();
    const caches = this.caches.snapshot();
    const world: Observed = {
      now: this.deps.clock.now(), tart, github,
      ...(freeDiskBytes !== undefined ? { freeDiskBytes } : {}),
      ...(githubBudget ? { githubBudget } : {}),
      ...(githubFeed ? { githubFeed } : {}),
      ...(caches.length > 0 ? { caches } : {}),
    };
    return { world, memory };
  }

  plan(world: Observed, memory: Remembered): Plan {
    return makePlan(world, memory, this.deps.config);
  }

  async tick(): Promise<TickReport> {
    const started = this.deps.clock.now();
    const tick = ++this.ticks;
    const log = this.deps.logger.child({ tick });
    // Only the daemon measures caches (in the background); `ls --live` and `--dry-run` observe what is known.
    this.caches.startDue();
    const { world: observed, memory } = await this.observe();
    this.memory.observed(observed);
    const plan = this.plan(observed, memory);
    const failures: string[] = [];
    if (!observed.tart.ok) failures.push(`tart: ${observed.tart.error}`);
    if (!observed.github.ok) failures.push(`github: ${observed.github.error}`);
    for (const b of plan.blocked) log.warn(b);

    const report: TickReport = {
      tick, ok: true, plan, admitted: 0, deletedVms: 0, deletedRunners: 0, failures,
      ...(observed.github.ok ? { github: observed.github.value.stats } : {}),
      durationMs: 0,
      world: observed,
      memory,
      creationsEnded: [],
    };
    const busyRunners = new Set<number>();
    for (const action of plan.actions) await this.apply(action, log, report, busyRunners);
    if (observed.tart.ok) {
      // VMs that exist or are being created (now, or when this tick began): their files stay.
      const creating = [...memory.creating.values(), ...this.memory.snapshot().creating.values()].map((c) => c.vmName);
      const vmsInUse = new Set([...observed.tart.value.ours.map((v) => v.name), ...creating]);
      await this.collectOrphanClones(vmsInUse, log, report);
      await this.collectOldRunLogs(vmsInUse, log, report);
    }
    report.ok = failures.length === 0;
    report.creationsEnded = this.ended.splice(0);
    report.durationMs = this.deps.clock.now() - started;
    log.info('tick done', {
      ok: report.ok, actions: plan.actions.length, admitted: report.admitted, deleted_vms: report.deletedVms,
      deleted_runners: report.deletedRunners, creating: memory.creating.size, ledger: plan.ledger,
      queued: plan.queue.length, ...(report.github ? { github: report.github } : {}), duration_ms: report.durationMs,
    });
    return report;
  }

  /** Waits until every creation, cache measurement and prune under way has finished (tests, `run --once`). */
  async drain(): Promise<void> {
    while (this.creations.size > 0) await Promise.allSettled([...this.creations]);
    await this.caches.drain();
  }

  /** `busyRunners`: runners whose deletion this tick found running a job (see keepIfRunnerBusy). */
  private async apply(action: Action, log: Logger, report: TickReport, busyRunners: Set<number>): Promise<void> {
    const { tart, github } = this.deps;
    try {
      switch (action.kind) {
        case 'create': {
          log.info('admitting job', { vm: action.vmName, profile: action.claim.profile, repo: action.job.repo, job: action.job.id, reason: action.reason });
          const admittedAt = this.deps.clock.now();
          const p = this.creator.start(action);
          this.creations.add(p);
          void p.then((outcome) => {
            this.ended.push({ profile: action.claim.profile, outcome, durationMs: this.deps.clock.now() - admittedAt });
          }).finally(() => this.creations.delete(p));
          report.admitted += 1;
          return;
        }
        case 'delete-vm': {
          if (action.keepIfRunnerBusy !== undefined && busyRunners.has(action.keepIfRunnerBusy)) {
            log.info('keeping VM: its runner took a job just before it could be deleted', { vm: action.vmName, profile: action.claim.profile, job: action.claim.jobId });
            return;
          }
          log.info(action.stop ? 'stopping and deleting VM' : 'deleting VM', { vm: action.vmName, profile: action.claim.profile, job: action.claim.jobId, reason: action.reason });
          await stopAndDelete(tart, action.vmName, { stop: action.stop, cacheClones: this.cacheClones });
          if (action.failure) this.countFailure(action, log);
          this.caches.vmGone(action.claim.profile);
          report.deletedVms += 1;
          return;
        }
        case 'prune-cache': {
          log.info('pruning cache', { dir: action.dir, max_bytes: action.maxBytes, reason: action.reason });
          this.caches.prune(action.dir, action.maxBytes, log);
          return;
        }
        case 'delete-runner': {
          const result = await github.deleteRunner(action.runnerId);
          if (result === 'busy') {
            busyRunners.add(action.runnerId);
            log.warn('runner is running a job; not deleted', { runner: action.runnerName, reason: action.reason });
            return;
          }
          log.info('deleted runner', { runner: action.runnerName, result, reason: action.reason });
          report.deletedRunners += 1;
          return;
        }
      }
    } catch (err) {
      const message = `${action.kind} failed: ${(err as Error).message}`;
      report.failures.push(message);
      log.error(message, { reason: action.reason });
    }
  }

  /**
   * Cache copies whose VM is gone (a crash between copy and VM removal): removed, but only on
   * evidence — tart was read this tick and no creation under way owns the copy.
   */
  private async collectOrphanClones(owners: ReadonlySet<string>, log: Logger, report: TickReport): Promise<void> {
    try {
      for (const path of await this.cacheClones.list()) {
        const name = basename(path);
        if (owners.has(name)) continue;
        log.info('removing a cache copy whose VM is gone', { vm: name });
        await this.cacheClones.remove(path);
      }
    } catch (err) {
      report.failures.push(`cache copies: ${describe(err)}`);
    }
  }

  /**
   * Run logs of VMs gone for longer than `host.vm_log_retention_hours` (only on a tart read), looked
   * for every RUN_LOG_CHECK_EVERY_MS; after a failure, again on the next tick.
   */
  private async collectOldRunLogs(existing: ReadonlySet<string>, log: Logger, report: TickReport): Promise<void> {
    const { config, clock } = this.deps;
    const now = clock.now();
    if (this.runLogsCheckedAt !== undefined && now - this.runLogsCheckedAt < RUN_LOG_CHECK_EVERY_MS) return;
    try {
      const removed = await this.runLogs.removeStale(existing, config.host.vm_log_retention_hours * 3_600_000, now);
      this.runLogsCheckedAt = now;
      if (removed.length > 0) log.info('removed run logs of VMs gone for longer than host.vm_log_retention_hours', { vms: removed });
    } catch (err) {
      report.failures.push(`run logs: ${describe(err)}`);
    }
  }

  private countFailure(action: Extract<Action, { kind: 'delete-vm' }>, log: Logger): void {
    const { config, clock } = this.deps;
    const failed = this.memory.attemptFailed(action.claim, action.failure!, clock.now());
    if (failed.count === config.vm.max_boot_attempts) {
      const profile = config.profiles[action.claim.profile];
      log.warn('leaving a job alone after repeated failed attempts (tart-fleet ls says why; see tart-fleet validate if runners got no job)', {
        profile: action.claim.profile, job: action.claim.jobId, attempts: failed.count, causes: failed.causes, runnerGroupId: profile?.runner_group_id,
      });
    }
  }

  private async observeDisk(): Promise<number | undefined> {
    if (!this.deps.disk) return undefined;
    try {
      return await this.deps.disk.freeBytes();
    } catch (err) {
      // Unknown free space does not stop the fleet: the floor protects against a known-full disk.
      this.deps.logger.warn('free disk space could not be read', { error: describe(err) });
      return undefined;
    }
  }

  private async observeTart(): Promise<Observation<TartObservation>> {
    const { tart, config } = this.deps;
    try {
      const listed = await tart.list();
      const ours: OurVm[] = [];
      const foreign: ForeignVm[] = [];
      await Promise.all(
        listed.map(async (vm) => gone(async () => {
          const claim = parseVmName(config.github.runner_name, vm.name);
          if (claim) {
            const [details, startedAt] = await Promise.all([this.details(vm.name, vm.state), tart.startedAt(vm.name, join(config.host.log_dir, `${vm.name}.log`))]);
            ours.push({ name: vm.name, claim, state: details.state, ramMb: details.ramMb, cpu: details.cpu, startedAt });
          } else if (vm.state === 'running') {
            const details = await this.details(vm.name, vm.state);
            foreign.push({ name: vm.name, state: details.state, ramMb: details.ramMb, os: details.os });
          }
        })),
      );
      const running = new Set(listed.filter((vm) => vm.state === 'running').map((vm) => vm.name));
      for (const name of this.runningDetails.keys()) if (!running.has(name)) this.runningDetails.delete(name);
      ours.sort((a, b) => a.name.localeCompare(b.name));
      return { ok: true, value: { ours, foreign } };
    } catch (err) {
      return { ok: false, error: describe(err) };
    }
  }

  /**
   * `tart get` of one VM. A running VM's CPU and memory cannot change until it stops, so its
   * details are read once and kept while `tart list` shows it running: a tick then costs one
   * `tart list` plus a `get` per VM that is not running, not one process per VM.
   */
  private async details(name: string, listedState: VmState): Promise<TartVmDetails> {
    const kept = this.runningDetails.get(name);
    if (listedState === 'running' && kept) return kept;
    const details = await this.deps.tart.get(name);
    if (details.state === 'running') this.runningDetails.set(name, details);
    return details;
  }

  private async observeGitHub(): Promise<Observation<GitHubObservation>> {
    const { github } = this.deps;
    try {
      const [demand, runners] = await Promise.all([github.listJobs(), github.listRunners()]);
      return { ok: true, value: { jobs: demand.jobs, runners, stats: demand.stats } };
    } catch (err) {
      return { ok: false, error: describe(err) };
    }
  }
}

/** A VM deleted between `tart list` and `tart get` is simply gone; any other failure fails the observation. */
async function gone(read: () => Promise<void>): Promise<void> {
  await ignoring(read(), ['vm-missing']);
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
