/**
 * One reconcile tick: observe the world in parallel (GitHub jobs and runners, tart list + get + run
 * logs; `get` once per running VM) → plan() → apply. Deletions are carried out in the tick; creations are handed to the
 * Creator and run on in the background.
 *
 * ## Lifecycle
 * The loop (loop.ts) calls `tick()` every poll interval. `ls` and `run --dry-run` call `observe()`
 * and `plan()` only. Tests call `drain()` to wait for creations under way.
 *
 * ## Gotchas
 * - `creating` is copied *before* observing (see model.ts), so a creation finishing mid-observation
 *   is still seen as creating, never as a leftover.
 * - apply() never decides: it carries actions out one by one, logs each with its reason, counts
 *   failures, and treats "already gone" answers as success (deletion is idempotent).
 * - An observation that fails is "unknown": the tick is reported failed and plan() fails closed.
 */
import { join } from 'node:path';
import type { Logger } from './core/logger.js';
import type { Action, Creating, Observation, Observed, OurVm, Plan, ForeignVm, GitHubObservation, TartObservation } from './core/model.js';
import { claimKey, parseVmName } from './core/names.js';
import { MAX_UNUSED_RUNNERS, countOne, plan as makePlan } from './core/plan.js';
import type { SweepStats, TartVmDetails, VmState } from './core/ports.js';
import { Creator, type CreationOutcome, type CreatorDeps } from './creator.js';
import { ignoring, stopAndDelete } from './vm-removal.js';

/** The reconciler needs exactly what the creator needs: the config and the ports. */
export type ReconcilerDeps = CreatorDeps;

export interface TickReport {
  tick: number;
  /** False when an observation failed or an action failed. */
  ok: boolean;
  plan: Plan;
  created: number;
  deletedVms: number;
  deletedRunners: number;
  failures: string[];
  github?: SweepStats;
  durationMs: number;
}

/** How long new VMs stay paused after tart reported the VZ limit; then one attempt is tried again. */
const VZ_PAUSE_MS = 5 * 60_000;

export class Reconciler {
  readonly creating = new Map<string, Creating>();
  readonly failedBoots = new Map<string, number>();
  readonly unusedRunners = new Map<string, number>();
  private admissionPausedUntil: { until: number; reason: string } | undefined;
  private readonly creations = new Set<Promise<CreationOutcome>>();
  private readonly creator: Creator;
  private ticks = 0;
  private readonly processStartedAt: number;
  /** `tart get` answers for VMs that were running when read (see details()). */
  private readonly runningDetails = new Map<string, TartVmDetails>();

  constructor(private readonly deps: ReconcilerDeps) {
    this.processStartedAt = deps.clock.now();
    this.creator = new Creator(deps, {
      creating: this.creating,
      failedBoots: this.failedBoots,
      onVzLimit: (reason) => {
        this.admissionPausedUntil = { until: deps.clock.now() + VZ_PAUSE_MS, reason: `VZ limit reached (${reason}); a host reboot may be needed` };
      },
    });
  }

  async observe(): Promise<Observed> {
    const creating = new Map(this.creating);
    const [tart, github] = await Promise.all([this.observeTart(), this.observeGitHub()]);
    return {
      now: this.deps.clock.now(),
      processStartedAt: this.processStartedAt,
      tart,
      github,
      creating,
      failedBoots: new Map(this.failedBoots),
      unusedRunners: new Map(this.unusedRunners),
      ...(this.admissionPausedUntil ? { admissionPausedUntil: this.admissionPausedUntil } : {}),
    };
  }

  plan(observed: Observed): Plan {
    return makePlan(observed, this.deps.config);
  }

  async tick(opts: { dryRun?: boolean } = {}): Promise<TickReport> {
    const started = this.deps.clock.now();
    const tick = ++this.ticks;
    const log = this.deps.logger.child({ tick });
    const observed = await this.observe();
    const plan = this.plan(observed);
    const failures: string[] = [];
    if (!observed.tart.ok) failures.push(`tart: ${observed.tart.error}`);
    if (!observed.github.ok) failures.push(`github: ${observed.github.error}`);
    for (const b of plan.blocked) log.warn(b);

    const report: TickReport = {
      tick, ok: true, plan, created: 0, deletedVms: 0, deletedRunners: 0, failures,
      ...(observed.github.ok ? { github: observed.github.value.stats } : {}),
      durationMs: 0,
    };
    if (!opts.dryRun) {
      const busyRunners = new Set<number>();
      for (const action of plan.actions) await this.apply(action, log, report, busyRunners);
    }
    report.ok = failures.length === 0;
    report.durationMs = this.deps.clock.now() - started;
    log.info('tick done', {
      ok: report.ok, actions: plan.actions.length, created: report.created, deleted_vms: report.deletedVms,
      deleted_runners: report.deletedRunners, creating: this.creating.size, ledger: plan.ledger,
      queued: plan.queue.length, ...(report.github ? { github: report.github } : {}), duration_ms: report.durationMs,
      ...(opts.dryRun ? { dry_run: true } : {}),
    });
    return report;
  }

  /** Waits until every creation under way has finished (tests, `run --once`). */
  async drain(): Promise<void> {
    while (this.creations.size > 0) await Promise.allSettled([...this.creations]);
  }

  /** `busyRunners`: runners whose deletion this tick found running a job (see keepIfRunnerBusy). */
  private async apply(action: Action, log: Logger, report: TickReport, busyRunners: Set<number>): Promise<void> {
    const { tart, github } = this.deps;
    try {
      switch (action.kind) {
        case 'create': {
          log.info('admitting job', { vm: action.vmName, profile: action.claim.profile, repo: action.job.repo, job: action.job.id, reason: action.reason });
          const p = this.creator.start(action);
          this.creations.add(p);
          void p.finally(() => this.creations.delete(p));
          report.created += 1;
          return;
        }
        case 'delete-vm': {
          if (action.keepIfRunnerBusy !== undefined && busyRunners.has(action.keepIfRunnerBusy)) {
            log.info('keeping VM: its runner took a job just before it could be deleted', { vm: action.vmName, profile: action.claim.profile, job: action.claim.jobId });
            return;
          }
          log.info(action.stop ? 'stopping and deleting VM' : 'deleting VM', { vm: action.vmName, profile: action.claim.profile, job: action.claim.jobId, reason: action.reason });
          await stopAndDelete(tart, action.vmName, { stop: action.stop });
          const key = claimKey(action.claim);
          if (action.bootFailed) countOne(this.failedBoots, key);
          if (action.runnerUnused && countOne(this.unusedRunners, key) === MAX_UNUSED_RUNNERS) {
            log.warn('leaving a job alone: the runners made for it got no job (see tart-fleet validate: runner group)', { profile: action.claim.profile, job: action.claim.jobId, runnerGroupId: this.deps.config.github.runner_group_id });
          }
          report.deletedVms += 1;
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
            ours.push({ name: vm.name, claim, state: details.state, memoryMb: details.memoryMb, cpu: details.cpu, startedAt });
          } else if (vm.state === 'running') {
            const details = await this.details(vm.name, vm.state);
            foreign.push({ name: vm.name, state: details.state, memoryMb: details.memoryMb, os: details.os });
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
