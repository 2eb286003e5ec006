/**
 * The creation pipeline for one admitted job: re-check → claim → clone → set → run → ip → start the
 * runner over SSH. It runs concurrently with the tick loop (a 20 s boot must not freeze discovery).
 *
 * ## Lifecycle
 * 1. Re-check the job: a job that is no longer queued (cancelled run, taken by another runner) costs
 *    nothing more. 2. Claim: create the JIT runner `tf-<profile>-<job>[-n]`; GitHub's unique names
 *    make this the lock between Macs. 409 from another Mac → leave the job to it. 409 from our own
 *    leftover (a crash after a claim; its JIT config is gone with that process) → delete it, claim
 *    once more. 3. Boot a VM `tf-<host>-<profile>-<job>[-n]` and hand the JIT config to the guest.
 *    A boot that fails or times out deletes its VM and retries on a fresh VM with the next suffix,
 *    reusing the runner (it never started), up to `vm.max_boot_attempts` failed attempts of the job
 *    in all (HostMemory counts them, whichever path removed the VM). 4. The runner is started when
 *    the guest accepted its command and the command exited 0 or GitHub shows the runner online; a
 *    command that stays in the foreground (the runner run directly) is not a failure, and the VM is
 *    bounded by its profile's timeout like any other (plan.ts).
 * - The guest is told the profile's tier: `TF_TRUST` and `TF_CACHE` exported before the command.
 *
 * ## Gotchas
 * - Every step is safe to repeat, and a crash between any two leaves something the planner's
 *   transition table cleans up next tick (a runner with no VM, a stopped VM, a VM whose runner
 *   never connects), after which the still-queued job is claimed again.
 * - The JIT config lives only in memory here and in the guest's stdin; it is registered with the
 *   log redactor by the GitHub adapter the moment it arrives.
 * - If the runner command may have run (it was sent), the runner is never reused: a retry claims anew.
 */
import { join } from 'node:path';
import { imageOf, type Config, type Profile } from '../config/types.js';
import type { Logger } from '../core/logger.js';
import { hostLabel, ownedByHost, vmName as vmNameOf, claimKey } from '../core/names.js';
import { stopAndDelete } from './vm-removal.js';
import { runnerLabels } from '../core/match.js';
import type { Action } from '../core/model.js';
import { GuestError, TartError, type Clock, type GitHub, type Guest, type JitRunner, type RunnerLaunch, type RunOptions, type Tart } from '../core/ports.js';
import type { HostMemory } from './host-memory.js';
import type { CacheClones } from '../adapters/cache-clone.js';

type CreateAction = Extract<Action, { kind: 'create' }>;

export interface CreatorDeps {
  config: Config;
  github: GitHub;
  tart: Tart;
  guest: Guest;
  clock: Clock;
  logger: Logger;
  /** Where creations under way, failed boots and the VZ pause are recorded (the only place). */
  memory: HostMemory;
  /** Per-job copies of a cache dir for profiles with `cache: clone`. */
  cacheClones: CacheClones;
}

export type CreationOutcome =
  | 'started'
  | 'job-not-queued'
  | 'claimed-elsewhere'
  | 'gave-up'
  | 'vz-limit'
  | 'failed';

export class Creator {
  constructor(private readonly deps: CreatorDeps) {}

  logFileFor(vmName: string): string {
    return join(this.deps.config.host.log_dir, `${vmName}.log`);
  }

  /** Registers the creation at once (so the next tick sees it), then carries it out. */
  start(action: CreateAction): Promise<CreationOutcome> {
    const { config, clock, memory } = this.deps;
    const profile = config.profiles[action.claim.profile]!;
    const key = claimKey(action.claim);
    memory.creationStarted(key, {
      claim: action.claim,
      vmName: action.vmName,
      runnerName: action.runnerName,
      repo: action.job.repo,
      ramMb: profile.ram_mb,
      os: profile.os,
      startedAt: clock.now(),
    });
    return this.create(action, profile).finally(() => memory.creationEnded(key));
  }

  private async create(action: CreateAction, profile: Profile): Promise<CreationOutcome> {
    const { github, logger } = this.deps;
    const log = logger.child({ profile: profile.name, repo: action.job.repo, job: action.job.id, runner: action.runnerName });
    try {
      const fresh = await github.getJob(action.job.repo, action.job.id, action.job.runId);
      if (fresh.status !== 'queued') {
        log.info('job is no longer queued; not claiming it', { status: fresh.status });
        return 'job-not-queued';
      }
      const jit = await this.claim(action, profile, log);
      if (!jit) return 'claimed-elsewhere';
      return await this.boot(action, profile, jit, log);
    } catch (err) {
      log.error('creation failed; the next tick will clean up and retry', { error: (err as Error).message });
      return 'failed';
    }
  }

  private async claim(action: CreateAction, profile: Profile, log: Logger): Promise<JitRunner | undefined> {
    const { github, config } = this.deps;
    const request = {
      name: action.runnerName,
      labels: runnerLabels(profile, hostLabel(config.github.runner_name)),
      runnerGroupId: profile.runner_group_id,
    };
    for (let round = 0; round < 2; round++) {
      const result = await github.createJitRunner(request);
      if (result.kind === 'created') {
        log.info('claimed job with a JIT runner', { runner_id: result.jit.runner.id });
        return result.jit;
      }
      const holder = result.holder;
      const ours = holder !== undefined && ownedByHost(holder, config.github.runner_name);
      if (!holder || !ours || holder.busy || holder.everConnected || round > 0) {
        log.info('job already claimed; leaving it', { holder: holder?.name, ours: Boolean(ours) });
        return undefined;
      }
      // Our own claim from before a crash: its JIT config died with that process. Replace it.
      log.warn('found our own unstarted claim from an earlier run; replacing it', { runner_id: holder.id });
      await github.deleteRunner(holder.id);
    }
    return undefined;
  }

  private async boot(action: CreateAction, profile: Profile, jit: JitRunner, log: Logger): Promise<CreationOutcome> {
    const { config, github, memory, clock } = this.deps;
    const key = claimKey(action.claim);
    for (let attempt = action.claim.attempt; ; attempt++) {
      const claim = { ...action.claim, attempt };
      const vmName = vmNameOf(config.github.runner_name, claim);
      memory.creationMoved(key, vmName);
      const vmLog = log.child({ vm: vmName });
      const result = await this.bootOnce(vmName, profile, jit, vmLog);
      if (result === 'started') return 'started';
      await this.removeVm(vmName, vmLog);
      const failures = memory.attemptFailed(action.claim, result === 'vz-limit' ? 'vz-limit' : 'boot-failed', clock.now(), action.job.repo).count;
      if (result === 'vz-limit') {
        await github.deleteRunner(jit.runner.id).catch(() => undefined);
        return 'vz-limit';
      }
      if (result === 'runner-may-have-started' || failures >= config.vm.max_boot_attempts) {
        // A runner that may have run is never reused; without a retry here the job is claimed anew next tick.
        await github.deleteRunner(jit.runner.id).catch(() => undefined);
        if (failures >= config.vm.max_boot_attempts) {
          vmLog.error('giving up on this job after repeated boot failures', { failures });
          return 'gave-up';
        }
        return 'failed';
      }
      vmLog.warn('boot failed; retrying on a fresh VM with the same runner', { failures });
    }
  }

  private async bootOnce(vmName: string, profile: Profile, jit: JitRunner, log: Logger): Promise<'started' | 'vz-limit' | 'retry' | 'runner-may-have-started'> {
    const { config, tart, guest, clock } = this.deps;
    const deadline = clock.now() + config.vm.boot_timeout_seconds * 1000;
    let sentToGuest = false;
    try {
      await tart.clone(imageOf(profile, config), vmName);
      await tart.set(vmName, { cpu: profile.cpu, ramMb: profile.ram_mb, randomMac: config.vm.random_mac });
      await tart.run(vmName, {
        cache: await this.cacheShareFor(profile, vmName),
        logFile: this.logFileFor(vmName),
        netSoftnet: profile.network === 'softnet',
        // The lists imply Softnet to tart: passed only when the profile uses it.
        netSoftnetAllow: profile.network === 'softnet' ? profile.net_softnet_allow : [],
        netSoftnetBlock: profile.network === 'softnet' ? profile.net_softnet_block : [],
        rootDiskOpts: config.vm.root_disk_opts,
      });
      log.info('VM booting');
      const ip = await tart.ip(vmName, Math.max(1, Math.ceil((deadline - clock.now()) / 1000)));
      sentToGuest = true;
      const launch = await guest.launchRunner(ip, jit.encodedJitConfig, deadline, { TF_TRUST: profile.trust, TF_CACHE: profile.cache }, vmName);
      const how = await this.untilRunnerStarted(launch, jit.runner.name, deadline);
      log.info('runner started in the VM', { ip, how });
      return 'started';
    } catch (err) {
      if (err instanceof TartError && err.kind === 'vz-limit') {
        log.error('Virtualization.framework VM limit reached; pausing new VMs (a host reboot may be needed)', { error: err.message });
        this.deps.memory.vzLimitHit(err.stderrLine, clock.now());
        return 'vz-limit';
      }
      log.warn('boot failed', { error: (err as Error).message });
      const commandSent = err instanceof GuestError && err.kind === 'command-failed';
      return sentToGuest && commandSent ? 'runner-may-have-started' : 'retry';
    }
  }

  /**
   * What the VM mounts as `cache`, by the profile's tier (config/types.ts CacheMode): the shared
   * dir read-write or read-only, nothing, or a throw-away copy made now and deleted with the VM.
   */
  private async cacheShareFor(profile: Profile, vmName: string): Promise<RunOptions['cache']> {
    switch (profile.cache) {
      case 'rw':
        return { dir: profile.cache_dir, readOnly: false };
      case 'ro':
        return { dir: profile.cache_dir, readOnly: true };
      case 'none':
        return undefined;
      case 'clone':
        return { dir: await this.deps.cacheClones.make(profile.cache_dir, vmName), readOnly: false };
    }
  }

  /**
   * The runner counts as started once its command exited 0 (a start script that detaches it) or
   * GitHub shows it online or busy (a runner run in the foreground; the ticks record what GitHub
   * shows in HostMemory). A command still running at the boot deadline is no failure either: the
   * planner then judges the runner by what GitHub shows, as for any VM.
   */
  private async untilRunnerStarted(launch: RunnerLaunch, runnerName: string, deadline: number): Promise<'command exited 0' | 'online' | 'command still running'> {
    const { clock, memory } = this.deps;
    const since = clock.now();
    let settled = false;
    const watch = async (): Promise<'online' | 'command still running'> => {
      while (!settled && clock.now() < deadline) {
        if ((memory.lastOnline(runnerName) ?? 0) >= since) return 'online';
        await clock.sleep(1000);
      }
      return 'command still running';
    };
    try {
      return await Promise.race([launch.exited.then(() => 'command exited 0' as const), watch()]);
    } finally {
      settled = true;
    }
  }

  private async removeVm(vmName: string, log: Logger): Promise<void> {
    try {
      await stopAndDelete(this.deps.tart, vmName, { stop: true, cacheClones: this.deps.cacheClones });
    } catch (err) {
      log.warn('removing the failed VM failed; the next tick retries', { error: (err as Error).message });
    }
  }
}
