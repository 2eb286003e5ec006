/**
 * Reads the world for one tick, in parallel: GitHub (queued jobs and runners), tart (`tart list`,
 * then `tart get` and the run log's start time of each VM), free disk, and the cache sizes last
 * measured. Nothing here decides or changes anything: the daemon's tick, `run --dry-run` and
 * `ls --live` all observe through it.
 *
 * ## Gotchas
 * - Fail closed: a failed read of GitHub or tart is an `{ ok: false, error }` observation ("unknown"),
 *   never an empty list. Free disk that cannot be read is undefined (the floor is then not checked).
 * - `runningDetails` is an observation cache (tart get of a running VM cannot change until it stops),
 *   not memory the planner reasons with.
 * - A VM deleted between `tart list` and `tart get` is simply gone; any other failure of a `get`
 *   fails the whole tart observation.
 */
import type { Config } from '../config/types.js';
import { runLogFile } from '../config/paths.js';
import type { Logger } from '../core/logger.js';
import type { CacheObservation, ForeignVm, GitHubObservation, Observation, Observed, OurVm, TartObservation } from '../core/model.js';
import { parseVmName } from '../core/names.js';
import type { Clock, DiskSpace, GitHub, Tart, TartVmDetails, VmState } from '../core/ports.js';
import { errorText } from '../core/errors.js';
import { ignoring } from './vm-removal.js';
import { observeDraining } from '../adapters/admission-state.js';
import type { BootProofView } from '../core/proof-gate.js';

export interface WorldObserverDeps {
  config: Config;
  github: GitHub;
  tart: Tart;
  clock: Clock;
  logger: Logger;
  /** Free space where the VMs live; without it the disk floor is not checked. */
  disk?: DiskSpace;
  /** Cache sizes as last measured (the daemon's CacheKeeper); none for one-off commands. */
  caches?: () => CacheObservation[];
  /** The boot proof's verdicts per image (daemon/boot-proof.ts); absent: no gate. */
  bootProof?: () => BootProofView | undefined;
}

export class WorldObserver {
  /** `tart get` answers for VMs that were running when read (see details()). */
  private readonly runningDetails = new Map<string, TartVmDetails>();

  constructor(private readonly deps: WorldObserverDeps) {}

  async observe(): Promise<Observed> {
    const [tart, github, freeDiskBytes] = await Promise.all([this.observeTart(), this.observeGitHub(), this.observeDisk()]);
    const githubBudget = this.deps.github.requestBudget?.();
    const githubFeed = this.deps.github.feedStatus?.();
    const caches = this.deps.caches?.() ?? [];
    // `tart-fleet drain` writes it; read every tick, so it holds while the daemon runs and across a restart.
    const draining = observeDraining(this.deps.config.host.state_dir);
    const bootProof = this.deps.bootProof?.();
    return {
      now: this.deps.clock.now(), tart, github,
      ...(draining ? { draining } : {}),
      ...(bootProof ? { bootProof } : {}),
      ...(freeDiskBytes !== undefined ? { freeDiskBytes } : {}),
      ...(githubBudget ? { githubBudget } : {}),
      ...(githubFeed ? { githubFeed } : {}),
      ...(caches.length > 0 ? { caches } : {}),
    };
  }

  private async observeDisk(): Promise<number | undefined> {
    if (!this.deps.disk) return undefined;
    try {
      return await this.deps.disk.freeBytes();
    } catch (err) {
      // Unknown free space does not stop the fleet: the floor protects against a known-full disk.
      this.deps.logger.warn('free disk space could not be read', { error: errorText(err) });
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
            const [details, startedAt] = await Promise.all([this.details(vm.name, vm.state), tart.startedAt(vm.name, runLogFile(config.host, vm.name))]);
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
      return { ok: false, error: errorText(err) };
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
      return { ok: false, error: errorText(err) };
    }
  }
}

/** A VM deleted between `tart list` and `tart get` is simply gone; any other failure fails the observation. */
async function gone(read: () => Promise<void>): Promise<void> {
  await ignoring(read(), ['vm-missing']);
}

