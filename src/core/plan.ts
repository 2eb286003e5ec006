/**
 * plan(observed, config) → actions: pure, no I/O, no clock (the time is `observed.now`).
 *
 * Two halves:
 * 1. **Lifecycle** of every claim this host holds (its VMs, its runners, creations under way):
 *    classify each into phases and look the decision up in the transition table (lifecycle.ts).
 * 2. **Demand and admission**: per profile, queued jobs minus runners that can still take one (any
 *    Mac's, booting or idle); the unserved jobs, oldest first, are admitted while they fit the RAM
 *    ledger and the macOS VM cap. A job that does not fit waits; smaller ones may backfill past it
 *    until it has waited `host.backfill_max_wait_seconds`, then nothing new starts until it fits.
 *
 * ## Gotchas
 * - Nothing is created unless both tart and GitHub were read this tick; nothing is deleted on
 *   evidence that was not read (see lifecycle.ts for what an unread GitHub still allows).
 * - A JIT runner may take any queued job whose labels it has, not the one it was made for, so demand
 *   is counted per profile, not per job. A queued job whose claim runner is busy with another job
 *   (GitHub swapped them) is claimed again with the next attempt suffix.
 * - Deleted VMs free their RAM only next tick (deletion may fail); the loop ticks again at once
 *   after a tick that deleted something, so this costs about a second, not a poll interval.
 */
import type { Config, Profile } from '../config/types.js';
import type { Job, Runner } from './ports.js';
import { claimKey, hostLabel, ownedByHost, parseRunnerName, runnerName as runnerNameOf, vmName as vmNameOf, type Claim } from './names.js';
import { decide, type JobPhase, type RunnerPhase, type VmPhase } from './lifecycle.js';
import { Ledger } from './ledger.js';
import { profileForLabels } from './match.js';
import type { Action, GitHubObservation, Observed, OurVm, Plan, QueueEntry } from './model.js';

interface ClaimGroup {
  profile: string;
  jobId: number;
  vms: OurVm[];
  runners: Runner[];
}

export function plan(observed: Observed, config: Config): Plan {
  if (!observed.tart.ok) {
    return {
      actions: [],
      ledger: undefined,
      queue: [],
      blocked: [`tart could not be read (${observed.tart.error}): nothing is created or deleted this tick`],
    };
  }
  const tart = observed.tart.value;
  const gh = observed.github.ok ? observed.github.value : undefined;
  const blocked: string[] = [];
  if (!observed.github.ok) {
    blocked.push(`GitHub could not be read (${observed.github.error}): no new VMs; only stopped and overdue VMs are cleaned up`);
  }

  const host = hostLabel(config.github.runner_name);
  const ourRunners = gh ? gh.runners.filter((r) => isOurs(r, config)) : [];
  const actions: Action[] = [];
  const deletedRunnerIds = new Set<number>();

  const jobIndex = gh ? indexJobs(gh, config, host) : undefined;
  for (const group of groupClaims(tart.ours, ourRunners)) {
    const key = claimKey(group);
    for (const [vm, runner] of pairByAttempt(group)) {
      const vmPhase = classifyVm(vm, observed.creating.has(key), config, observed.now, observed.processStartedAt);
      const runnerPhase: RunnerPhase = gh ? classifyRunner(runner, vm, config, observed.now) : 'unknown';
      const jobPhase: JobPhase = jobIndex ? classifyJob(group, jobIndex) : 'unknown';
      const decision = decide(vmPhase, runnerPhase, jobPhase);
      const deleteVm: Action | undefined = decision.deleteVm && vm ? {
        kind: 'delete-vm', vmName: vm.name, claim: vm.claim, stop: vm.state !== 'stopped', reason: decision.reason,
        ...(decision.bootFailed ? { bootFailed: true as const } : {}),
        ...(decision.runnerUnused ? { runnerUnused: true as const } : {}),
      } : undefined;
      const deleteRunner: Action | undefined = decision.deleteRunner && runner
        ? { kind: 'delete-runner', runnerId: runner.id, runnerName: runner.name, reason: decision.reason }
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

  const ledger = Ledger.build(config, tart.ours, tart.foreign, observed.creating.values());
  const queue: QueueEntry[] = [];
  if (gh) admit(observed, config, gh, host, ledger, deletedRunnerIds, actions, queue);
  return { actions, ledger: ledger.view(), queue, blocked };
}

/** Adds one to a per-claim count (failed boots, unused runners); returns the new count. */
export function countOne(counts: Map<string, number>, key: string): number {
  const n = (counts.get(key) ?? 0) + 1;
  counts.set(key, n);
  return n;
}

/** Per-claim counts from earlier ticks plus this plan's delete-vm actions carrying `flag`. */
function countingThisPlan(earlier: Map<string, number>, actions: Action[], flag: 'bootFailed' | 'runnerUnused'): Map<string, number> {
  const counts = new Map(earlier);
  for (const a of actions) if (a.kind === 'delete-vm' && a[flag]) countOne(counts, claimKey(a.claim));
  return counts;
}

function isOurs(r: Runner, config: Config): boolean {
  return parseRunnerName(r.name) !== undefined && ownedByHost(r, config.github.runner_name);
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
  const runners = [...g.runners].sort((a, b) => parseRunnerName(b.name)!.attempt - parseRunnerName(a.name)!.attempt);
  const pairs: Array<[OurVm | undefined, Runner | undefined]> = [];
  for (let i = 0; i < Math.max(vms.length, runners.length, 1); i++) pairs.push([vms[i], runners[i]]);
  return pairs;
}

/** How long a restarted daemon gives an adopted, still-booting VM for its runner to connect. */
export const ADOPTION_GRACE_MS = 30_000;

/**
 * How many runners made for one job may go unused (online, no job within the registration timeout)
 * before this process stops claiming that job. GitHub hands an idle runner the oldest queued job it
 * may run, so a runner left idle beside a still-queued job of its labels means GitHub will not route
 * that job to our runner group; two in a row rules out a slow assignment.
 */
export const MAX_UNUSED_RUNNERS = 2;

export function classifyVm(vm: OurVm | undefined, creating: boolean, config: Config, now: number, processStartedAt: number): VmPhase {
  if (creating) return 'creating';
  if (!vm) return 'absent';
  if (vm.state !== 'running') return 'stopped';
  // No run log: we cannot tell its age, so neither timeout applies; it is past booting, though.
  if (vm.startedAt === undefined) return 'running';
  const ageMs = now - vm.startedAt;
  const profile = config.profiles[vm.claim.profile];
  if (profile && ageMs > profile.timeout_minutes * 60_000) return 'overdue';
  // Booted by a process that has since died: nobody here holds its JIT config to start the runner.
  const orphanedBoot = vm.startedAt < processStartedAt && now - processStartedAt >= ADOPTION_GRACE_MS;
  return ageMs < config.vm.boot_timeout_seconds * 1000 && !orphanedBoot ? 'booting' : 'running';
}

export function classifyRunner(runner: Runner | undefined, vm: OurVm | undefined, config: Config, now: number): RunnerPhase {
  if (!runner) return 'absent';
  if (runner.busy) return 'busy';
  if (!runner.everConnected) return 'registered';
  if (runner.status === 'offline') return 'lost';
  const expired = vm?.startedAt !== undefined && now - vm.startedAt > config.vm.registration_timeout_seconds * 1000;
  return expired ? 'idle-expired' : 'idle';
}

interface JobIndex {
  byId: Map<number, Job>;
  /** Profiles with at least one queued job. */
  queuedProfiles: Set<string>;
}

/** Built once per plan: the lookups below would otherwise be jobs × claims. */
function indexJobs(gh: GitHubObservation, config: Config, host: string): JobIndex {
  const byId = new Map(gh.jobs.map((j) => [j.id, j]));
  const queuedProfiles = new Set<string>();
  for (const j of gh.jobs) {
    const p = j.status === 'queued' ? profileForLabels(j.labels, config.profiles, host) : undefined;
    if (p) queuedProfiles.add(p.name);
  }
  return { byId, queuedProfiles };
}

function classifyJob(g: ClaimGroup, index: JobIndex): JobPhase {
  const job = index.byId.get(g.jobId);
  if (job?.status === 'queued') return 'queued';
  if (job?.status === 'in_progress') return 'started';
  return index.queuedProfiles.has(g.profile) ? 'queued' : 'gone';
}

/** Demand per profile, then admission oldest-first against the ledger. */
function admit(
  observed: Observed,
  config: Config,
  gh: GitHubObservation,
  host: string,
  ledger: Ledger,
  deletedRunnerIds: Set<number>,
  actions: Action[],
  queue: QueueEntry[],
): void {
  const now = observed.now;
  const queued = gh.jobs.filter((j) => j.status === 'queued').sort(byAge);
  const byProfile = new Map<string, Job[]>();
  for (const job of queued) {
    const profile = profileForLabels(job.labels, config.profiles, host);
    if (!profile) {
      // GitHub-hosted jobs (no `self-hosted`) are not ours to mention; unknown self-hosted labels are.
      if (job.labels.some((l) => l.toLowerCase() === 'self-hosted')) {
        queue.push(entry(job, null, now, `no profile matches [${job.labels.join(', ')}]`));
      }
      continue;
    }
    byProfile.set(profile.name, [...(byProfile.get(profile.name) ?? []), job]);
  }

  // This plan's own deletions count at once: the tick that deletes a job's last allowed attempt
  // must not claim it again in the same breath.
  const failedBoots = countingThisPlan(observed.failedBoots, actions, 'bootFailed');
  const unusedRunners = countingThisPlan(observed.unusedRunners, actions, 'runnerUnused');

  // Runners that can still take a job, per profile, any Mac: registered (booting) or idle, not being reaped.
  const live = new Set(gh.runners.filter((r) => !r.busy && !deletedRunnerIds.has(r.id) && (r.status === 'online' || !r.everConnected)));
  const runnerNames = new Set(gh.runners.map((r) => r.name));
  const claimsByKey = new Map<string, Runner[]>();
  for (const r of gh.runners) {
    const c = parseRunnerName(r.name);
    if (c) claimsByKey.set(claimKey(c), [...(claimsByKey.get(claimKey(c)) ?? []), r]);
  }
  const candidates: Array<{ job: Job; profile: Profile; claim: Claim }> = [];

  for (const [profileName, jobs] of byProfile) {
    const profile = config.profiles[profileName]!;
    const liveHere = [...live].filter((r) => parseRunnerName(r.name)?.profile === profileName);
    const creatingHere = [...observed.creating.values()].filter((c) => c.claim.profile === profileName && !runnerNames.has(c.runnerName));
    let unserved = jobs.length - liveHere.length - creatingHere.length;
    for (const job of jobs) {
      const key = claimKey({ profile: profileName, jobId: job.id });
      const claims = claimsByKey.get(key) ?? [];
      const liveClaim = claims.find((r) => live.has(r));
      if (observed.creating.has(key)) {
        queue.push(entry(job, profileName, now, 'claimed by this Mac; VM being created'));
      } else if (liveClaim) {
        const whose = isOurs(liveClaim, config) ? 'this Mac' : 'another Mac';
        queue.push(entry(job, profileName, now, `claimed by ${liveClaim.name} (${whose}); waiting for its runner`));
      } else if ((failedBoots.get(key) ?? 0) >= config.vm.max_boot_attempts) {
        queue.push(entry(job, profileName, now, `gave up after ${config.vm.max_boot_attempts} failed boots on this Mac`));
      } else if ((unusedRunners.get(key) ?? 0) >= MAX_UNUSED_RUNNERS) {
        queue.push(entry(job, profileName, now, `gave up: ${MAX_UNUSED_RUNNERS} runners made for it got no job; GitHub does not route it to runner group ${config.github.runner_group_id} (public repository? selected repositories or workflows? see tart-fleet validate)`));
      } else if (unserved <= 0) {
        queue.push(entry(job, profileName, now, 'an idle or booting runner will take it'));
      } else {
        unserved -= 1;
        const attempt = 1 + Math.max(0, ...claims.map((r) => parseRunnerName(r.name)!.attempt));
        candidates.push({ job, profile, claim: { profile: profileName, jobId: job.id, attempt } });
      }
    }
  }

  candidates.sort((a, b) => byAge(a.job, b.job));
  let head: { job: Job; waitedS: number } | undefined;
  for (const { job, profile, claim } of candidates) {
    if (observed.admissionPausedUntil && now < observed.admissionPausedUntil.until) {
      queue.push(entry(job, profile.name, now, `new VMs paused: ${observed.admissionPausedUntil.reason}`));
      continue;
    }
    if (head && head.waitedS >= config.host.backfill_max_wait_seconds) {
      queue.push(entry(job, profile.name, now, `held for older job ${head.job.id} (waiting ${head.waitedS} s)`));
      continue;
    }
    const why = ledger.whyNot(profile);
    if (why) {
      queue.push(entry(job, profile.name, now, why));
      head ??= { job, waitedS: waitedSeconds(job, now) };
      continue;
    }
    ledger.reserve(profile);
    const reason = head ? `fits ${profile.ram_mb} MB while older job ${head.job.id} waits (backfill)` : `fits: ${profile.ram_mb} MB, ${profile.cpu} CPU`;
    actions.push({ kind: 'create', claim, job, vmName: vmNameOf(config.github.runner_name, claim), runnerName: runnerNameOf(claim), reason });
    queue.push(entry(job, profile.name, now, 'starting a VM now'));
  }
}

function byAge(a: Job, b: Job): number {
  return a.createdAt - b.createdAt || a.id - b.id;
}

function waitedSeconds(job: Job, now: number): number {
  return Math.max(0, Math.round((now - job.createdAt) / 1000));
}

function entry(job: Job, profile: string | null, now: number, reason: string): QueueEntry {
  return { repo: job.repo, job_id: job.id, name: job.name, profile, labels: job.labels, waiting_s: waitedSeconds(job, now), reason };
}
