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
import { basename } from 'node:path';
import type { Config } from '../config/types.js';
import type { Logger } from '../core/logger.js';
import type { Action, Observed } from '../core/model.js';
import { lastFailureGaveUp, type Remembered } from '../core/memory.js';
import { plan as makePlan } from '../core/plan.js';
import type { CacheClones, Clock, GitHub, Tart } from '../core/ports.js';
import { errorText } from '../core/errors.js';
import type { RunLogs } from '../adapters/run-logs.js';
import type { Creator } from './creator.js';
import type { CreationEnded, CreationOutcome, TickFailure, TickReport } from './report.js';
import type { HostMemory } from './host-memory.js';
import type { WorldObserver } from './observer.js';
import type { CacheKeeper } from './cache-keeper.js';
import { stopAndDelete } from './vm-removal.js';
import type { JobHistory } from './history.js';

/** Everything a tick works with, built by the composition root (cli/wiring.ts `buildDaemon`). */
export interface ReconcilerDeps {
  config: Config;
  github: GitHub;
  tart: Tart;
  clock: Clock;
  logger: Logger;
  /** The one owner of what the daemon keeps between ticks. */
  memory: HostMemory;
  observer: WorldObserver;
  /** Carries creations out in the background (claim → clone → boot → runner). */
  creator: Creator;
  /** Measures and prunes cache dirs under host.cache_max_gb, in the background. */
  caches: CacheKeeper;
  /** Per-job cache copies (`cache: clone`): listed to collect the ones whose VM is gone. */
  cacheClones: CacheClones & { list(): Promise<string[]> };
  runLogs: RunLogs;
  /** The job history (`<state_dir>/history.jsonl`): what ran here, how long it waited and took. */
  history: JobHistory;
}

/**
 * How often the run logs are looked through for ones past `host.vm_log_retention_hours`: not every
 * tick, since that stats every log of a gone VM (a busy Mac keeps hundreds within a day's retention)
 * to remove at most one now and then. A log goes at most this much later than its retention says.
 */
export const RUN_LOG_CHECK_EVERY_MS = 10 * 60_000;

export class Reconciler {
  readonly memory: HostMemory;
  private readonly creations = new Set<Promise<CreationOutcome>>();
  private ended: CreationEnded[] = [];
  private ticks = 0;
  /** When the run logs were last looked through (collectOldRunLogs); undefined before the first time. */
  private runLogsCheckedAt: number | undefined;

  constructor(private readonly deps: ReconcilerDeps) {
    this.memory = deps.memory;
  }

  /** Memory first (see the header), then the world. */
  async observe(): Promise<{ world: Observed; memory: Remembered }> {
    const memory = this.memory.snapshot();
    const world = await this.deps.observer.observe();
    return { world, memory };
  }

  async tick(): Promise<TickReport> {
    const started = this.deps.clock.now();
    const tick = ++this.ticks;
    const log = this.deps.logger.child({ tick });
    // Only the daemon measures caches (in the background); `ls --live` and `--dry-run` observe what is known.
    this.deps.caches.startDue();
    const { world: observed, memory } = await this.observe();
    this.memory.observed(observed);
    const plan = makePlan(observed, memory, this.deps.config);
    const failures: TickFailure[] = [];
    if (!observed.tart.ok) failures.push({ source: 'tart', message: observed.tart.error });
    if (!observed.github.ok) failures.push({ source: 'github', message: observed.github.error });
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
    report.jobsEnded = this.deps.history.takeEnded();
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
    await this.deps.caches.drain();
  }

  /** `busyRunners`: runners whose deletion this tick found running a job (see keepIfRunnerBusy). */
  private async apply(action: Action, log: Logger, report: TickReport, busyRunners: Set<number>): Promise<void> {
    const { tart, github } = this.deps;
    try {
      switch (action.kind) {
        case 'create': {
          log.info('admitting job', { vm: action.vmName, profile: action.claim.profile, repo: action.job.repo, job: action.job.id, reason: action.reason });
          const admittedAt = this.deps.clock.now();
          this.deps.history.admitted(action, admittedAt);
          const p = this.deps.creator.start(action);
          this.creations.add(p);
          void p.then((outcome) => {
            this.ended.push({ profile: action.claim.profile, outcome, durationMs: this.deps.clock.now() - admittedAt });
            this.deps.history.creationEnded(action.claim, outcome, this.deps.clock.now(), this.memory.snapshot());
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
          await stopAndDelete(tart, action.vmName, { stop: action.stop, cacheClones: this.deps.cacheClones });
          if (action.failure) this.countFailure(action, log);
          this.deps.history.vmDeleted(action, report.world, this.memory.snapshot(), this.deps.clock.now());
          this.deps.caches.vmGone(action.claim.profile);
          report.deletedVms += 1;
          return;
        }
        case 'prune-cache': {
          log.info('pruning cache', { dir: action.dir, max_bytes: action.maxBytes, reason: action.reason });
          this.deps.caches.prune(action.dir, action.maxBytes, log);
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
      report.failures.push({ source: 'action', message });
      log.error(message, { reason: action.reason });
    }
  }

  /**
   * Cache copies whose VM is gone (a crash between copy and VM removal): removed, but only on
   * evidence — tart was read this tick and no creation under way owns the copy.
   */
  private async collectOrphanClones(owners: ReadonlySet<string>, log: Logger, report: TickReport): Promise<void> {
    try {
      for (const path of await this.deps.cacheClones.list()) {
        const name = basename(path);
        if (owners.has(name)) continue;
        log.info('removing a cache copy whose VM is gone', { vm: name });
        await this.deps.cacheClones.remove(path);
      }
    } catch (err) {
      report.failures.push({ source: 'cache-copies', message: errorText(err) });
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
      const removed = await this.deps.runLogs.removeStale(existing, config.host.vm_log_retention_hours * 3_600_000, now);
      this.runLogsCheckedAt = now;
      if (removed.length > 0) log.info('removed run logs of VMs gone for longer than host.vm_log_retention_hours', { vms: removed });
    } catch (err) {
      report.failures.push({ source: 'run-logs', message: errorText(err) });
    }
  }

  private countFailure(action: Extract<Action, { kind: 'delete-vm' }>, log: Logger): void {
    const { config, clock } = this.deps;
    const failed = this.memory.attemptFailed(action.claim, action.failure!, clock.now());
    if (lastFailureGaveUp(failed.causes, config.vm.max_boot_attempts)) {
      const profile = config.profiles[action.claim.profile];
      log.warn('leaving a job alone after repeated failed attempts (tart-fleet ls says why; see tart-fleet validate if runners got no job)', {
        profile: action.claim.profile, job: action.claim.jobId, attempts: failed.causes.length, causes: failed.causes, runnerGroupId: profile?.runner_group_id,
      });
    }
  }
}
