/**
 * HostMemory: the one owner of everything the daemon keeps between ticks (see core/memory.ts for
 * what and why). Nothing else mutates cross-tick state: the reconciler and the creator report
 * named events here, and the planner reads an immutable `snapshot()`.
 *
 * ## Lifecycle
 * - Built once per daemon process; loads the persisted failure counts from its store.
 * - Every tick: `snapshot()` before observing, then `observed(world)` after (records first-seen and
 *   last-online times, prunes what the world no longer holds).
 * - Events: `creationStarted` / `creationMoved` / `creationEnded`, `attemptFailed`, `vzLimitHit`.
 *
 * ## Gotchas
 * - Only failure counts are persisted (small, and what a restart must not forget: a give-up). They
 *   are written on every change through `MemoryStore`, atomically; a store that cannot be written is
 *   logged and the daemon goes on with what it holds in memory (fail towards running jobs, not
 *   towards stopping the fleet).
 * - Pruning happens only on evidence: runner times only when GitHub was read, VM times only when tart
 *   was read, failure counts only when GitHub was read and the job is neither queued nor in progress.
 *   A count also expires after FAILURE_MAX_AGE_MS, so a job GitHub forgot cannot pin a file entry.
 */
import type { Logger } from '../core/logger.js';
import type { Creating, FailedAttempts, FailureCause, Remembered } from '../core/memory.js';
import type { Observed } from '../core/model.js';
import { claimKey, parseRunnerName } from '../core/names.js';
import type { MemoryStore, PersistedMemory } from '../core/ports.js';

/** A store that forgets at exit (tests; `ls --live` and dry runs read the daemon's file and never write it). */
export class VolatileStore implements MemoryStore {
  private state: PersistedMemory | undefined;
  load(): PersistedMemory | undefined {
    return this.state && structuredClone(this.state);
  }
  save(state: PersistedMemory): void {
    this.state = structuredClone(state);
  }
}

/** A failure count whose job was not seen for this long is dropped even without evidence. */
const FAILURE_MAX_AGE_MS = 7 * 24 * 3_600_000;

/** How long new VMs stay paused after tart reported the VZ limit; then one attempt is tried again. */
export const VZ_PAUSE_MS = 5 * 60_000;

export class HostMemory {
  private readonly creating = new Map<string, Creating>();
  private readonly failures = new Map<string, FailedAttempts & { jobId: number }>();
  private readonly runnerFirstSeen = new Map<string, number>();
  private readonly runnerLastOnline = new Map<string, number>();
  private readonly vmFirstSeen = new Map<string, number>();
  private admissionPausedUntil: { until: number; reason: string } | undefined;

  constructor(
    readonly processStartedAt: number,
    private readonly store: MemoryStore,
    private readonly logger: Logger,
  ) {
    const loaded = safely(() => store.load(), logger, 'reading the saved failure counts failed; starting without them');
    // Older files also stored a `count` beside the causes; the causes are the count.
    for (const [key, f] of Object.entries(loaded?.failures ?? {})) {
      this.failures.set(key, { jobId: f.jobId, causes: [...f.causes], lastAt: f.lastAt, ...(f.repo ? { repo: f.repo } : {}) });
    }
  }

  snapshot(): Remembered {
    return {
      processStartedAt: this.processStartedAt,
      creating: new Map([...this.creating].map(([k, c]) => [k, { ...c }])),
      failures: new Map([...this.failures].map(([k, f]) => [k, { ...f, causes: [...f.causes] }])),
      runnerFirstSeen: new Map(this.runnerFirstSeen),
      runnerLastOnline: new Map(this.runnerLastOnline),
      vmFirstSeen: new Map(this.vmFirstSeen),
      ...(this.admissionPausedUntil ? { admissionPausedUntil: { ...this.admissionPausedUntil } } : {}),
    };
  }

  /** When GitHub last showed this runner online or busy (the creator waits for it). */
  lastOnline(runnerName: string): number | undefined {
    return this.runnerLastOnline.get(runnerName);
  }

  // -- creations -------------------------------------------------------------------------------

  creationStarted(key: string, creating: Creating): void {
    this.creating.set(key, { ...creating });
  }

  /** A boot retry moved the creation to a fresh VM name. */
  creationMoved(key: string, vmName: string): void {
    const c = this.creating.get(key);
    if (c) this.creating.set(key, { ...c, vmName });
  }

  creationEnded(key: string): void {
    this.creating.delete(key);
  }

  // -- failures --------------------------------------------------------------------------------

  /** A VM of this job was removed before the job ran. Returns the job's failed attempts, this one included. */
  attemptFailed(claim: { profile: string; jobId: number }, cause: FailureCause, now: number, repo?: string): FailedAttempts {
    const key = claimKey(claim);
    const before = this.failures.get(key);
    const next = {
      jobId: claim.jobId,
      causes: [...(before?.causes ?? []), cause],
      lastAt: now,
      ...(repo ?? before?.repo ? { repo: repo ?? before?.repo } : {}),
    };
    this.failures.set(key, next);
    this.persist();
    return { ...next };
  }

  vzLimitHit(reason: string, now: number): void {
    this.admissionPausedUntil = { until: now + VZ_PAUSE_MS, reason: `VZ limit reached (${reason}); a host reboot may be needed` };
  }

  // -- observation -----------------------------------------------------------------------------

  /** Records what this tick saw and forgets what the world no longer holds (only on evidence). */
  observed(world: Observed): void {
    const now = world.now;
    if (world.tart.ok) {
      const listed = new Set(world.tart.value.ours.map((v) => v.name));
      for (const name of listed) if (!this.vmFirstSeen.has(name)) this.vmFirstSeen.set(name, now);
      for (const name of this.vmFirstSeen.keys()) if (!listed.has(name)) this.vmFirstSeen.delete(name);
    }
    if (!world.github.ok) return;
    const runners = world.github.value.runners;
    const names = new Set(runners.map((r) => r.name));
    for (const r of runners) {
      if (!this.runnerFirstSeen.has(r.name)) this.runnerFirstSeen.set(r.name, now);
      if (r.busy || r.status === 'online') this.runnerLastOnline.set(r.name, now);
    }
    for (const map of [this.runnerFirstSeen, this.runnerLastOnline]) {
      for (const name of map.keys()) if (!names.has(name)) map.delete(name);
    }
    const liveJobs = new Set(world.github.value.jobs.map((j) => j.id));
    const creatingJobs = new Set([...this.creating.values()].map((c) => c.claim.jobId));
    const claimedJobs = new Set(runners.map((r) => parseRunnerName(r.name)?.jobId));
    let changed = false;
    for (const [key, f] of this.failures) {
      const jobGone = !liveJobs.has(f.jobId) && !creatingJobs.has(f.jobId) && !claimedJobs.has(f.jobId);
      if (jobGone || now - f.lastAt > FAILURE_MAX_AGE_MS) {
        this.failures.delete(key);
        changed = true;
      }
    }
    if (changed) this.persist();
  }

  private persist(): void {
    const state: PersistedMemory = { version: 1, failures: Object.fromEntries(this.failures) };
    safely(() => this.store.save(state), this.logger, 'saving the failure counts failed; a restart would forget them');
  }
}

function safely<T>(fn: () => T, logger: Logger, message: string): T | undefined {
  try {
    return fn();
  } catch (err) {
    logger.error(message, { error: (err as Error).message });
    return undefined;
  }
}
