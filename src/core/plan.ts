/**
 * plan(world, memory, config) → actions: pure, no I/O, no clock (the time is `world.now`).
 * `world` is what was observed this tick; `memory` what the host remembers (core/memory.ts).
 *
 * It joins three policies, each returning what it decides:
 * 1. **Lifecycle** of every claim this host holds (its VMs, its runners, creations under way):
 *    classify each into phases and look the decision up in the transition table (lifecycle.ts).
 *    This part lives here.
 * 2. **Cache cap** (cache-cap.ts): which cache dirs to prune, and which take no new VM meanwhile.
 * 3. **Demand and admission** (admission.ts): which queued jobs get a VM now, and why the others wait.
 *
 * ## Gotchas
 * - Nothing is created unless both tart and GitHub were read this tick; nothing is deleted on
 *   evidence that was not read (see lifecycle.ts for what an unread GitHub still allows).
 * - A queued job whose claim runner is busy with another job (GitHub swapped them) is claimed again
 *   with the next attempt suffix.
 * - Every VM of ours is bounded by its profile's timeout in every phase, creation included; a VM
 *   whose start time cannot be read is bounded by the longest timeout from when it was first seen.
 * - Deleted VMs free their RAM only next tick (deletion may fail); the loop ticks again at once
 *   after a tick that deleted something, so this costs about a second, not a poll interval.
 */
import type { Config } from '../config/types.js';
import type { Runner } from './ports.js';
import { claimKey, hostLabel, newestAttemptFirst, parseRunnerName, type Claim } from './names.js';
import { decide, type JobPhase, type RunnerPhase, type VmPhase } from './lifecycle.js';
import { Ledger } from './ledger.js';
import type { Remembered } from './memory.js';
import type { Action, Observed, OurVm, Plan } from './model.js';
import { cacheCap } from './cache-cap.js';
import { admit } from './admission.js';
import { indexJobs, isOurs, restarting, type JobIndex, type PlanContext } from './plan-context.js';


interface ClaimGroup {
  profile: string;
  jobId: number;
  vms: OurVm[];
  runners: Runner[];
}

export function plan(world: Observed, memory: Remembered, config: Config): Plan {
  if (!world.tart.ok) {
    return {
      actions: [],
      ledger: undefined,
      queue: [],
      blocked: [`tart could not be read (${world.tart.error}): nothing is created or deleted this tick`],
    };
  }
  const ctx: PlanContext = { world, memory, config, now: world.now, host: hostLabel(config.github.runner_name) };
  const tart = world.tart.value;
  const gh = world.github.ok ? world.github.value : undefined;
  const blocked: string[] = [];
  if (!world.github.ok) {
    blocked.push(`GitHub could not be read (${world.github.error}): no new VMs; only stopped and overdue VMs are cleaned up`);
  }

  const ourRunners = gh ? gh.runners.filter((r) => isOurs(r, config)) : [];
  const actions: Action[] = [];
  const deletedRunnerIds = new Set<number>();

  const jobIndex = gh ? indexJobs(gh, config, ctx.host) : undefined;
  for (const group of groupClaims(tart.ours, ourRunners)) {
    const creating = memory.creating.has(claimKey(group));
    for (const [vm, runner] of pairByAttempt(group)) {
      const vmPhase = classifyVm(vm, creating, ctx);
      const runnerPhase: RunnerPhase = gh ? classifyRunner(runner, vm, ctx) : 'unknown';
      const jobPhase: JobPhase = jobIndex ? classifyJob(group, jobIndex) : 'unknown';
      const decision = decide(vmPhase, runnerPhase, jobPhase);
      const deleteVm: Action | undefined = decision.deleteVm && vm ? {
        kind: 'delete-vm', vmName: vm.name, claim: vm.claim, stop: vm.state !== 'stopped', cause: decision.cause, reason: decision.reason,
        ...(decision.failure ? { failure: decision.failure } : {}),
      } : undefined;
      const deleteRunner: Action | undefined = decision.deleteRunner && runner
        ? { kind: 'delete-runner', runnerId: runner.id, runnerName: runner.name, cause: decision.cause, reason: decision.reason }
        : undefined;
      if (runner && deleteRunner) deletedRunnerIds.add(runner.id);
      if (deleteVm && deleteRunner && runner && !runner.busy) {
        // An idle runner goes first: once it is deleted GitHub cannot hand it a job, so stopping the
        // VM can no longer cut off a job that arrived at the last moment. If it was busy after all,
        // the VM stays and runs that job.
        actions.push(deleteRunner, { ...deleteVm, keepIfRunnerBusy: runner.id });
      } else {
        for (const a of [deleteVm, deleteRunner]) if (a) actions.push(a);
      }
    }
  }

  // Before admission: a cache dir about to be pruned takes no new VM this tick.
  const cache = cacheCap(ctx);
  const ledger = Ledger.build(config, tart.ours, tart.foreign, memory.creating.values());
  const admission = gh && jobIndex
    ? admit(ctx, { gh, jobIndex, ledger, deletedRunnerIds, lifecycleActions: actions, cacheHeld: cache.held })
    : { creates: [], queue: [], blocked: [] };
  return {
    actions: [...actions, ...cache.prunes, ...admission.creates],
    ledger: ledger.view(),
    queue: admission.queue,
    blocked: [...blocked, ...cache.blocked, ...admission.blocked],
  };
}

function groupClaims(vms: OurVm[], runners: Runner[]): ClaimGroup[] {
  const groups = new Map<string, ClaimGroup>();
  const groupOf = (c: Claim) => {
    const key = claimKey(c);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { profile: c.profile, jobId: c.jobId, vms: [], runners: [] }));
    return g;
  };
  for (const vm of vms) groupOf(vm.claim).vms.push(vm);
  for (const r of runners) groupOf(parseRunnerName(r.name)!).runners.push(r);
  return [...groups.values()];
}

/**
 * Pairs a claim's VMs with its runners, newest attempt with newest attempt. Normally there is one of
 * each; a boot retry has VM `-2` with runner `-1`, a swapped job has two of each. Leftovers pair
 * with nothing and are cleaned up by their own rules.
 */
function pairByAttempt(g: ClaimGroup): Array<[OurVm | undefined, Runner | undefined]> {
  const vms = [...g.vms].sort((a, b) => b.claim.attempt - a.claim.attempt);
  const runners = newestAttemptFirst(g.runners);
  const pairs: Array<[OurVm | undefined, Runner | undefined]> = [];
  for (let i = 0; i < Math.max(vms.length, runners.length, 1); i++) pairs.push([vms[i], runners[i]]);
  return pairs;
}

/** How long a restarted daemon gives an adopted, still-booting VM for its runner to connect. */
const ADOPTION_GRACE_MS = 30_000;

/** When a VM started: its own start time, else when this process first saw it. */
function startOf(vm: OurVm, ctx: PlanContext): { at: number; known: boolean } {
  if (vm.startedAt !== undefined) return { at: vm.startedAt, known: true };
  return { at: ctx.memory.vmFirstSeen.get(vm.name) ?? ctx.now, known: false };
}

function longestTimeoutMs(config: Config): number {
  return Math.max(...Object.values(config.profiles).map((p) => p.timeout_minutes)) * 60_000;
}

function classifyVm(vm: OurVm | undefined, creating: boolean, ctx: PlanContext): VmPhase {
  const { config, now, memory } = ctx;
  const start = vm && startOf(vm, ctx);
  const ageMs = start ? now - start.at : 0;
  const profile = vm ? config.profiles[vm.claim.profile] : undefined;
  // Past its timeout in any phase, creation included: a runner command that never returns must not
  // make a VM immortal. Without a readable start time, the longest timeout bounds it.
  const timeoutMs = start?.known && profile ? profile.timeout_minutes * 60_000 : longestTimeoutMs(config);
  if (vm && vm.state === 'running' && ageMs > timeoutMs) return 'overdue';
  if (creating) return 'creating';
  if (!vm || !start) return 'absent';
  if (vm.state !== 'running') return 'stopped';
  // No start time of its own: past booting (we cannot tell how long it has been up).
  if (!start.known) return 'running';
  // Booted by a process that has since died: nobody here holds its JIT config to start the runner.
  const orphanedBoot = start.at < memory.processStartedAt && now - memory.processStartedAt >= ADOPTION_GRACE_MS;
  return ageMs < config.vm.boot_timeout_seconds * 1000 && !orphanedBoot ? 'booting' : 'running';
}

function classifyRunner(runner: Runner | undefined, vm: OurVm | undefined, ctx: PlanContext): RunnerPhase {
  if (!runner) return 'absent';
  if (runner.busy) return 'busy';
  if (!runner.everConnected) return 'registered';
  if (runner.status === 'offline') return restarting(runner, ctx) ? 'updating' : 'lost';
  const start = vm && startOf(vm, ctx);
  const expired = start !== undefined && ctx.now - start.at > ctx.config.vm.registration_timeout_seconds * 1000;
  return expired ? 'idle-expired' : 'idle';
}

function classifyJob(g: ClaimGroup, index: JobIndex): JobPhase {
  const job = index.byId.get(g.jobId);
  if (job?.status === 'queued') return 'queued';
  if (job?.status === 'in_progress') return 'started';
  if (index.queuedProfiles.has(g.profile)) return 'queued';
  return index.incomplete ? 'unknown' : 'gone';
}

