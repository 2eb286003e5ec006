/**
 * Demand and admission: per profile, the demand rule (demand.ts) picks the queued jobs that need a
 * new VM; those, oldest first, are admitted while they fit the RAM ledger, the macOS VM cap, the disk
 * floor, the cache cap and the per-repository fair share. A job that does not fit waits; smaller ones
 * may backfill past it until it has waited `host.backfill_max_wait_seconds`, then nothing new starts
 * until it fits. Pure; returns what it decides.
 *
 * ## Gotchas
 * - A job whose attempts are used up on this Mac (core/memory.ts attemptsUsedUp) is left alone,
 *   counting this tick's own deletions: the tick that deletes a job's last attempt must not claim it.
 * - Another Mac's registered runner counts as supply for a boot's worth of time only.
 */
import { imageOf, repoCapFor, type Profile, type Trust } from '../config/types.js';
import { proofGate } from './proof-gate.js';
import type { Job, Runner } from './ports.js';
import { claimKey, parseRunnerName, runnerName as runnerNameOf, vmName as vmNameOf, type Claim } from './names.js';
import type { Ledger } from './ledger.js';
import { profileForLabels } from './match.js';
import { demandFor } from './demand.js';
import { attemptsUsedUp, describeCauses } from './memory.js';
import type { Action, GitHubObservation, QueueEntry } from './model.js';
import { jobsByRunner, servedRepo } from './served-repo.js';
import { publicJobRefusal } from './public-jobs.js';
import { byAge, entry, isOurs, restarting, waitedSeconds, type JobIndex, type PlanContext } from './plan-context.js';

type CreateAction = Extract<Action, { kind: 'create' }>;

/**
 * Whether a runner (any Mac's) can still take a job: online and idle, restarting, or registered and
 * not yet past a boot's worth of time. Another Mac's registered runner is trusted only that long.
 */
function canTakeJob(r: Runner, ctx: PlanContext, deletedRunnerIds: ReadonlySet<number>): boolean {
  if (r.busy || deletedRunnerIds.has(r.id)) return false;
  if (r.status === 'online' || restarting(r, ctx)) return true;
  if (r.everConnected) return false;
  if (isOurs(r, ctx.config)) return true; // our own claims are bounded by the lifecycle table
  const firstSeen = ctx.memory.runnerFirstSeen.get(r.name) ?? ctx.now;
  const window = (ctx.config.vm.boot_timeout_seconds + ctx.config.host.poll_seconds) * 1000;
  return ctx.now - firstSeen <= window;
}

/** What admission works from: GitHub's view, and what the lifecycle half and the cache cap decided. */
export interface AdmissionInput {
  gh: GitHubObservation;
  jobIndex: JobIndex;
  /** The RAM ledger: admission reserves each admitted job's profile in it. */
  ledger: Ledger;
  /** Runners the lifecycle half deletes this tick: they take no job. */
  deletedRunnerIds: ReadonlySet<number>;
  /** The lifecycle half's actions: a VM deleted before its job ran counts toward the give-up now. */
  lifecycleActions: readonly Action[];
  /** Cache dir → why it takes no new VM now (core/cache-cap.ts). */
  cacheHeld: ReadonlyMap<string, string>;
}

export interface AdmissionDecision {
  creates: CreateAction[];
  /** Every queued job this Mac could serve, with why it waits (or that a VM starts now). */
  queue: QueueEntry[];
  blocked: string[];
}

/** Demand per profile (demand.ts), then admission oldest-first against the ledger and the caps. */
export function admit(ctx: PlanContext, input: AdmissionInput): AdmissionDecision {
  const { gh, jobIndex, ledger, deletedRunnerIds, lifecycleActions, cacheHeld } = input;
  const { config, memory, now } = ctx;
  const creates: CreateAction[] = [];
  const queue: QueueEntry[] = [];
  const blocked: string[] = [];
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

  const gaveUp = giveUps(ctx, lifecycleActions);
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
    if (ctx.world.draining) {
      wait(`this Mac is draining (${ctx.world.draining.note}): it claims no new job until \`tart-fleet resume\``);
      continue;
    }
    const unproven = proofGate(ctx.world.bootProof, imageOf(profile, config), profile.name);
    if (unproven) {
      wait(unproven);
      continue;
    }
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
    if (repoCap && repoVms >= repoCap.cap && candidates.some((c) => c.job.repo !== job.repo && !admitted(creates, c.job))) {
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
    creates.push({ kind: 'create', claim, job, vmName: vmNameOf(config.github.runner_name, claim), runnerName: runnerNameOf(claim), reason: note ? `${fit}; ${note}` : fit });
    wait(note ? `starting a VM now (${note})` : 'starting a VM now');
  }
  return { creates, queue, blocked };
}

function admitted(creates: readonly CreateAction[], job: Job): boolean {
  return creates.some((a) => a.job.id === job.id);
}

/**
 * Jobs this Mac leaves alone, with the reason: failed attempts from memory plus this plan's own
 * deletions (the tick that deletes a job's last allowed attempt must not claim it again).
 */
function giveUps(ctx: PlanContext, actions: readonly Action[]): Map<string, string> {
  const causes = new Map([...ctx.memory.failures].map(([k, f]) => [k, [...f.causes]]));
  for (const a of actions) {
    if (a.kind === 'delete-vm' && a.failure) causes.set(claimKey(a.claim), [...(causes.get(claimKey(a.claim)) ?? []), a.failure]);
  }
  const out = new Map<string, string>();
  for (const [key, list] of causes) {
    if (!attemptsUsedUp(list, ctx.config.vm.max_boot_attempts)) continue;
    const hint = list.includes('runner-unused')
      ? '; runners made for it got no job, so GitHub may not route it to this runner group (public repository? selected repositories or workflows? see tart-fleet validate)'
      : '';
    out.set(key, `gave up after ${list.length} failed attempts on this Mac (${describeCauses(list)})${hint}`);
  }
  return out;
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
