/**
 * plan(world, memory, config) → actions: pure, no I/O, no clock (the time is `world.now`).
 * `world` is what was observed this tick; `memory` what the host remembers (core/memory.ts).
 *
 * Two halves:
 * 1. **Lifecycle** of every claim this host holds (its VMs, its runners, creations under way):
 *    classify each into phases and look the decision up in the transition table (lifecycle.ts).
 * 2. **Demand and admission**: per profile, the demand rule (demand.ts) picks the queued jobs that
 *    need a new VM; those, oldest first, are admitted while they fit the RAM ledger, the macOS VM
 *    cap, the disk floor and the per-repository fair share. A job that does not fit waits; smaller
 *    ones may backfill past it until it has waited `host.backfill_max_wait_seconds`, then nothing
 *    new starts until it fits.
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
import { repoCapFor, type Config, type Profile, type Trust } from '../config/types.js';
import type { Job, Runner } from './ports.js';
import { claimKey, hostLabel, ownedByHost, parseRunnerName, runnerName as runnerNameOf, vmName as vmNameOf, type Claim } from './names.js';
import { decide, type JobPhase, type RunnerPhase, type VmPhase } from './lifecycle.js';
import { Ledger } from './ledger.js';
import { profileForLabels } from './match.js';
import { demandFor } from './demand.js';
import { describeCauses, type Remembered } from './memory.js';
import type { Action, GitHubObservation, Observed, OurVm, Plan, QueueEntry } from './model.js';
import { jobsByRunner, servedRepo } from './served-repo.js';
import { publicJobRefusal } from './public-jobs.js';

interface ClaimGroup {
  profile: string;
  jobId: number;
  vms: OurVm[];
  runners: Runner[];
}

/** What every step of one plan needs to know. */
interface PlanContext {
  world: Observed;
  memory: Remembered;
  config: Config;
  now: number;
  host: string;
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
        kind: 'delete-vm', vmName: vm.name, claim: vm.claim, stop: vm.state !== 'stopped', reason: decision.reason,
        ...(decision.failure ? { failure: decision.failure } : {}),
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

  // Before admission: a cache dir about to be pruned takes no new VM this tick.
  const cacheHeld = cacheCap(ctx, actions, blocked);
  const ledger = Ledger.build(config, tart.ours, tart.foreign, memory.creating.values());
  const queue: QueueEntry[] = [];
  if (gh && jobIndex) admit(ctx, gh, jobIndex, ledger, deletedRunnerIds, actions, queue, blocked, cacheHeld);
  return { actions, ledger: ledger.view(), queue, blocked };
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
 * How long a runner that was online may be offline before it counts as lost. A runner older than
 * GitHub's latest updates itself on every boot (download, exit, restart: ~10–30 s offline), and
 * GitHub's runner list can lag by up to a minute.
 */
export const RUNNER_RESTART_GRACE_MS = 120_000;

/** When a VM started: its own start time, else when this process first saw it. */
function startOf(vm: OurVm, ctx: PlanContext): { at: number; known: boolean } {
  if (vm.startedAt !== undefined) return { at: vm.startedAt, known: true };
  return { at: ctx.memory.vmFirstSeen.get(vm.name) ?? ctx.now, known: false };
}

function longestTimeoutMs(config: Config): number {
  return Math.max(...Object.values(config.profiles).map((p) => p.timeout_minutes)) * 60_000;
}

export function classifyVm(vm: OurVm | undefined, creating: boolean, ctx: PlanContext): VmPhase {
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

/** Connected once, offline now, for less than the restart grace (see RUNNER_RESTART_GRACE_MS). */
function restarting(runner: Runner, ctx: PlanContext): boolean {
  const lastOnline = ctx.memory.runnerLastOnline.get(runner.name) ?? ctx.memory.runnerFirstSeen.get(runner.name) ?? ctx.now;
  return runner.everConnected && runner.status === 'offline' && ctx.now - lastOnline < RUNNER_RESTART_GRACE_MS;
}

export function classifyRunner(runner: Runner | undefined, vm: OurVm | undefined, ctx: PlanContext): RunnerPhase {
  if (!runner) return 'absent';
  if (runner.busy) return 'busy';
  if (!runner.everConnected) return 'registered';
  if (runner.status === 'offline') return restarting(runner, ctx) ? 'updating' : 'lost';
  const start = vm && startOf(vm, ctx);
  const expired = start !== undefined && ctx.now - start.at > ctx.config.vm.registration_timeout_seconds * 1000;
  return expired ? 'idle-expired' : 'idle';
}

interface JobIndex {
  byId: Map<number, Job>;
  /** Profiles with at least one queued job. */
  queuedProfiles: Set<string>;
  /** Some repositories were never swept yet (a cold start): a missing job proves nothing. */
  incomplete: boolean;
}

/** Built once per plan: the lookups below would otherwise be jobs × claims. */
function indexJobs(gh: GitHubObservation, config: Config, host: string): JobIndex {
  const byId = new Map(gh.jobs.map((j) => [j.id, j]));
  const queuedProfiles = new Set<string>();
  for (const j of gh.jobs) {
    const p = j.status === 'queued' ? profileForLabels(j.labels, config.profiles, host) : undefined;
    if (p) queuedProfiles.add(p.name);
  }
  return { byId, queuedProfiles, incomplete: gh.stats.unsweptRepositories > 0 };
}

function classifyJob(g: ClaimGroup, index: JobIndex): JobPhase {
  const job = index.byId.get(g.jobId);
  if (job?.status === 'queued') return 'queued';
  if (job?.status === 'in_progress') return 'started';
  if (index.queuedProfiles.has(g.profile)) return 'queued';
  return index.incomplete ? 'unknown' : 'gone';
}

/**
 * Whether a runner (any Mac's) can still take a job: online and idle, restarting, or registered and
 * not yet past a boot's worth of time. Another Mac's registered runner is trusted only that long.
 */
function canTakeJob(r: Runner, ctx: PlanContext, deletedRunnerIds: Set<number>): boolean {
  if (r.busy || deletedRunnerIds.has(r.id)) return false;
  if (r.status === 'online' || restarting(r, ctx)) return true;
  if (r.everConnected) return false;
  if (isOurs(r, ctx.config)) return true; // our own claims are bounded by the lifecycle table
  const firstSeen = ctx.memory.runnerFirstSeen.get(r.name) ?? ctx.now;
  const window = (ctx.config.vm.boot_timeout_seconds + ctx.config.host.poll_seconds) * 1000;
  return ctx.now - firstSeen <= window;
}

/** Demand per profile (demand.ts), then admission oldest-first against the ledger and the caps. */
function admit(
  ctx: PlanContext,
  gh: GitHubObservation,
  jobIndex: JobIndex,
  ledger: Ledger,
  deletedRunnerIds: Set<number>,
  actions: Action[],
  queue: QueueEntry[],
  blocked: string[],
  cacheHeld: Map<string, string>,
): void {
  const { config, memory, now } = ctx;
  const byProfile = new Map<string, Job[]>();
  for (const job of gh.jobs.filter((j) => j.status === 'queued').sort(byAge)) {
    const profile = profileForLabels(job.labels, config.profiles, ctx.host);
    if (!profile) {
      // GitHub-hosted jobs (no `self-hosted`) are not ours to mention; unknown self-hosted labels are.
      if (job.labels.some((l) => l.toLowerCase() === 'self-hosted')) {
        queue.push(entry(job, null, now, `no profile matches [${job.labels.join(', ')}]`));
      }
      continue;
    }
    const refusal = publicJobRefusal(job, profile); // no VM that GitHub would never give it (public-jobs.ts)
    if (refusal) {
      queue.push(entry(job, profile.name, now, refusal));
      continue;
    }
    byProfile.set(profile.name, [...(byProfile.get(profile.name) ?? []), job]);
  }

  const gaveUp = giveUps(ctx, actions);
  const live = new Set(gh.runners.filter((r) => canTakeJob(r, ctx, deletedRunnerIds)));
  const listedRunners = new Set(gh.runners.map((r) => r.name));
  const claimsByKey = new Map<string, Runner[]>();
  for (const r of gh.runners) {
    const c = parseRunnerName(r.name);
    if (c) claimsByKey.set(claimKey(c), [...(claimsByKey.get(claimKey(c)) ?? []), r]);
  }

  const candidates: Array<{ job: Job; profile: Profile; claim: Claim; note?: string }> = [];
  for (const [profileName, jobs] of byProfile) {
    const profile = config.profiles[profileName]!;
    const standings = demandFor({
      queued: jobs,
      claimsOf: (jobId) => claimsByKey.get(claimKey({ profile: profileName, jobId })) ?? [],
      canTakeJob: new Set([...live].filter((r) => parseRunnerName(r.name)?.profile === profileName)),
      creatingHere: (jobId) => memory.creating.has(claimKey({ profile: profileName, jobId })),
      creatingNotYetListed: [...memory.creating.values()].filter((c) => c.claim.profile === profileName && !listedRunners.has(c.runnerName)).length,
      ownedHere: (r) => isOurs(r, config),
      gaveUp: (jobId) => gaveUp.get(claimKey({ profile: profileName, jobId })),
    });
    for (const s of standings) {
      if (s.kind === 'wait') queue.push(entry(s.job, profileName, now, s.reason));
      else candidates.push({ job: s.job, profile, claim: { profile: profileName, jobId: s.job.id, attempt: s.attempt }, ...(s.note ? { note: s.note } : {}) });
    }
  }

  const diskFloor = diskFloorReason(ctx);
  if (diskFloor && candidates.length > 0) blocked.push(diskFloor);
  const vmsPerRepo = countVmsPerRepo(ctx, jobIndex);
  candidates.sort((a, b) => byAge(a.job, b.job));
  let head: { job: Job; waitedS: number } | undefined;
  for (const { job, profile, claim, note } of candidates) {
    const wait = (reason: string) => queue.push(entry(job, profile.name, now, reason));
    if (memory.admissionPausedUntil && now < memory.admissionPausedUntil.until) {
      wait(`new VMs paused: ${memory.admissionPausedUntil.reason}`);
      continue;
    }
    if (diskFloor) {
      wait(diskFloor);
      continue;
    }
    const pruning = profile.cache === 'none' ? undefined : cacheHeld.get(profile.cache_dir);
    if (pruning) {
      wait(pruning);
      continue;
    }
    const repoCap = repoCapFor(config.host, profile.trust);
    const repoKey = repoCountKey(job.repo, repoCap?.tier);
    const repoVms = vmsPerRepo.get(repoKey) ?? 0;
    // Fair share holds only while another repository's job waits here: a lone repository may use
    // an otherwise idle Mac. A capped job never becomes the head that holds back everyone else.
    if (repoCap && repoVms >= repoCap.cap && candidates.some((c) => c.job.repo !== job.repo && !admitted(actions, c.job))) {
      const setting = repoCap.tier ? `host.max_vms_per_repo.${repoCap.tier}: ${repoCap.cap}` : `host.max_vms_per_repo: ${repoCap.cap}`;
      wait(`fair share: ${job.repo} has ${repoVms}${repoCap.tier ? ` ${repoCap.tier}` : ''} VMs on this Mac (${setting}) while other repositories wait`);
      continue;
    }
    if (head && head.waitedS >= config.host.backfill_max_wait_seconds) {
      wait(`held for older job ${head.job.id} (waiting ${head.waitedS} s)`);
      continue;
    }
    const why = ledger.whyNot(profile);
    if (why) {
      wait(why);
      head ??= { job, waitedS: waitedSeconds(job, now) };
      continue;
    }
    ledger.reserve(profile);
    countVm(vmsPerRepo, job.repo, profile.trust);
    const fit = head ? `fits ${profile.ram_mb} MB while older job ${head.job.id} waits (backfill)` : `fits: ${profile.ram_mb} MB, ${profile.cpu} CPU`;
    actions.push({ kind: 'create', claim, job, vmName: vmNameOf(config.github.runner_name, claim), runnerName: runnerNameOf(claim), reason: note ? `${fit}; ${note}` : fit });
    wait(note ? `starting a VM now (${note})` : 'starting a VM now');
  }
}

function admitted(actions: Action[], job: Job): boolean {
  return actions.some((a) => a.kind === 'create' && a.job.id === job.id);
}

/**
 * Jobs this Mac leaves alone, with the reason: failed attempts from memory plus this plan's own
 * deletions (the tick that deletes a job's last allowed attempt must not claim it again).
 */
function giveUps(ctx: PlanContext, actions: Action[]): Map<string, string> {
  const causes = new Map([...ctx.memory.failures].map(([k, f]) => [k, [...f.causes]]));
  for (const a of actions) {
    if (a.kind === 'delete-vm' && a.failure) causes.set(claimKey(a.claim), [...(causes.get(claimKey(a.claim)) ?? []), a.failure]);
  }
  const max = ctx.config.vm.max_boot_attempts;
  const out = new Map<string, string>();
  for (const [key, list] of causes) {
    if (list.length < max) continue;
    const hint = list.includes('runner-unused')
      ? '; runners made for it got no job, so GitHub may not route it to this runner group (public repository? selected repositories or workflows? see tart-fleet validate)'
      : '';
    out.set(key, `gave up after ${list.length} failed attempts on this Mac (${describeCauses(list)})${hint}`);
  }
  return out;
}

/** A cache over `host.cache_max_gb` is pruned down to this share of the cap, so it is not pruned again after every job. */
export const CACHE_PRUNE_TO = 0.9;

/**
 * How long a cache may stay over the cap while VMs keep using it: after that, VMs that would use it
 * wait until the running ones are gone and it is pruned (a busy Mac has no gap between jobs).
 */
export const CACHE_DRAIN_AFTER_MS = 3_600_000;

/** A prune that left the cache over the cap (files it could not remove) is tried again after this long. */
export const CACHE_PRUNE_RETRY_MS = 600_000;

/**
 * `host.cache_max_gb`: a cache dir measured over the cap is pruned (a `prune-cache` action) once no
 * VM that mounts it runs and no creation that uses it is under way; until then `blocked` says why
 * it waits, and once it has waited CACHE_DRAIN_AFTER_MS no new VM that would use it starts. Returns the dirs that take no new VM now (pruning, or about to be), with the reason.
 * A `clone` profile's creation copies the dir, so it counts as using it too; its VM, which mounts
 * its own copy, does not. A VM of a profile no longer configured counts as using every cache dir.
 */
function cacheCap(ctx: PlanContext, actions: Action[], blocked: string[]): Map<string, string> {
  const held = new Map<string, string>();
  const capGb = ctx.config.host.cache_max_gb;
  if (capGb === undefined || !ctx.world.tart.ok) return held;
  const cap = capGb * 1e9;
  const gb = (bytes: number) => `${(bytes / 1e9).toFixed(1)} GB`;
  const profiles = ctx.config.profiles;
  const mounts = (profile: string, dir: string) => {
    const p = profiles[profile];
    return !p || ((p.cache === 'rw' || p.cache === 'ro') && p.cache_dir === dir);
  };
  const uses = (profile: string, dir: string) => {
    const p = profiles[profile];
    return !p || (p.cache !== 'none' && p.cache_dir === dir);
  };
  for (const cache of ctx.world.caches ?? []) {
    const { dir, bytes } = cache;
    if (cache.busy === 'pruning') {
      held.set(dir, `cache ${dir} is being pruned to stay under host.cache_max_gb (${capGb} GB)`);
      continue;
    }
    // Decided on the last measurement, also while a new one runs (a drain must not lapse meanwhile).
    if (bytes === undefined || bytes <= cap) continue;
    if (cache.lastPruneAt !== undefined && ctx.now - cache.lastPruneAt < CACHE_PRUNE_RETRY_MS) {
      blocked.push(`cache ${dir} is ${gb(bytes)}, still over host.cache_max_gb (${capGb} GB) after the last prune (see its log); next try ${Math.ceil((cache.lastPruneAt + CACHE_PRUNE_RETRY_MS - ctx.now) / 60_000)} min from now`);
      continue;
    }
    const vms = ctx.world.tart.value.ours.filter((vm) => vm.state !== 'stopped' && mounts(vm.claim.profile, dir)).length;
    const creations = [...ctx.memory.creating.values()].filter((c) => uses(c.claim.profile, dir)).length;
    if (vms + creations > 0) {
      const what = [vms > 0 ? `${vms} VM(s) mounting it` : '', creations > 0 ? `${creations} creation(s) using it` : ''].filter(Boolean).join(' and ');
      const overMs = cache.overCapSince === undefined ? 0 : ctx.now - cache.overCapSince;
      if (overMs >= CACHE_DRAIN_AFTER_MS) {
        // A Mac that is never idle never has a gap between jobs: make one for this dir.
        const reason = `cache ${dir} has been over host.cache_max_gb (${capGb} GB) for ${Math.floor(overMs / 60_000)} min: no new VM uses it until the ${what} are gone and it is pruned`;
        blocked.push(reason);
        held.set(dir, reason);
      } else {
        blocked.push(`cache ${dir} is ${gb(bytes)}, over host.cache_max_gb (${capGb} GB): pruned between jobs, once the ${what} are gone`);
      }
      continue;
    }
    if (cache.busy === 'measuring') {
      // A gap between jobs: keep it until the measurement ends and the prune can start.
      const reason = `cache ${dir} was ${gb(bytes)}, over host.cache_max_gb (${capGb} GB), and is being measured again before it is pruned`;
      blocked.push(reason);
      held.set(dir, reason);
      continue;
    }
    const target = Math.floor(cap * CACHE_PRUNE_TO);
    const reason = `cache ${dir} is ${gb(bytes)}, over host.cache_max_gb (${capGb} GB), and no VM uses it: pruning the least recently used files down to ${gb(target)}`;
    actions.push({ kind: 'prune-cache', dir, maxBytes: target, reason });
    held.set(dir, `cache ${dir} is being pruned to stay under host.cache_max_gb (${capGb} GB)`);
  }
  return held;
}

function diskFloorReason(ctx: PlanContext): string | undefined {
  const free = ctx.world.freeDiskBytes;
  const floorGb = ctx.config.host.min_free_disk_gb;
  if (free === undefined || free >= floorGb * 1e9) return undefined;
  return `no new VMs: ${(free / 1e9).toFixed(1)} GB free disk is below host.min_free_disk_gb (${floorGb} GB)`;
}

/** The key of a repository's VM count: all its VMs (tier undefined), or those of one trust tier. */
function repoCountKey(repo: string, tier: Trust | undefined): string {
  return tier ? `${repo}\u0000${tier}` : repo;
}

/** One more VM of `repo`: counted for the repository and for its tier (for either form of the cap). */
function countVm(counts: Map<string, number>, repo: string | undefined, trust: Trust): void {
  if (!repo) return;
  for (const key of [repoCountKey(repo, undefined), repoCountKey(repo, trust)]) counts.set(key, (counts.get(key) ?? 0) + 1);
}

/**
 * Our VMs and creations per repository and per repository and tier (a VM's repository comes from the
 * job it serves, its tier from its profile; a profile no longer configured counts as trusted).
 */
function countVmsPerRepo(ctx: PlanContext, jobIndex: JobIndex): Map<string, number> {
  const counts = new Map<string, number>();
  const trustOf = (profile: string): Trust => ctx.config.profiles[profile]?.trust ?? 'trusted';
  const creatingVms = new Set<string>();
  // A runner takes whichever job GitHub gives it: count it where it works (served-repo.ts).
  const byRunner = jobsByRunner(jobIndex.byId.values());
  for (const c of ctx.memory.creating.values()) {
    creatingVms.add(c.vmName);
    countVm(counts, byRunner.get(c.runnerName)?.repo ?? c.repo, trustOf(c.claim.profile));
  }
  if (ctx.world.tart.ok) {
    for (const vm of ctx.world.tart.value.ours) {
      if (!creatingVms.has(vm.name)) countVm(counts, servedRepo(runnerNameOf(vm.claim), vm.claim.jobId, byRunner, jobIndex.byId), trustOf(vm.claim.profile));
    }
  }
  return counts;
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
