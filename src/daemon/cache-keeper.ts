/**
 * Keeps track of the size of every cache dir under `host.cache_max_gb` and carries out the planner's
 * `prune-cache` actions. Both measuring and pruning run as child processes (adapters/cache-tool.ts),
 * in the background: a tick never waits for a walk of a large cache.
 *
 * ## Lifecycle
 * `startDue()` at the start of each tick starts the measurements that are due; `snapshot()` is what
 * the tick observes (`Observed.caches`); `prune()` runs a planned prune; `vmGone()` after a VM is
 * deleted marks its cache dir as changed; `drain()` waits for every child (tests, `run --once`).
 *
 * ## Gotchas
 * - Measuring is a full walk, so it is rationed: a dir is measured when the daemon starts, again
 *   `remeasureAfterJobMs` after a VM that wrote to it went away (jobs are what grow a cache), and
 *   otherwise every `measureEveryMs` (an operator may fill it by hand). A prune's report is a
 *   measurement too.
 * - Only `rw` profiles write to a cache dir; a `ro` VM cannot, and a `clone` VM writes to its copy.
 * - A prune that leaves the dir over the cap (files it could not remove) is not retried before
 *   `retryPruneMs` has passed (`lastPruneAt` lets the planner say so): no child per tick.
 * - `overCapSince` is kept across measurements while the cache stays over the cap: the planner
 *   stops admitting VMs that mount it once it has been over for too long (a Mac never idle).
 * - Whether a prune may run is the planner's decision (no VM mounting the dir); this module never
 *   decides, and it never prunes a dir that is already being measured or pruned.
 */
import type { Config } from '../config/types.js';
import type { Logger } from '../core/logger.js';
import type { CacheObservation } from '../core/model.js';
import type { Clock } from '../core/ports.js';
import type { CacheTool } from '../core/ports.js';

export interface CacheKeeperDeps {
  config: Config;
  tool: CacheTool;
  clock: Clock;
  logger: Logger;
  /** Default 1 hour. */
  measureEveryMs?: number;
  /** Default 5 minutes. */
  remeasureAfterJobMs?: number;
}

interface DirState {
  bytes: number | undefined;
  measuredAt: number | undefined;
  lastPruneAt: number | undefined;
  overCapSince: number | undefined;
  busy: 'measuring' | 'pruning' | undefined;
  /** A VM that could write to it went away since the last measurement began. */
  changed: boolean;
}

export class CacheKeeper {
  private readonly dirs = new Map<string, DirState>();
  private readonly running = new Set<Promise<void>>();
  private readonly measureEveryMs: number;
  private readonly remeasureAfterJobMs: number;

  constructor(private readonly deps: CacheKeeperDeps) {
    this.measureEveryMs = deps.measureEveryMs ?? 3_600_000;
    this.remeasureAfterJobMs = deps.remeasureAfterJobMs ?? 300_000;
    if (deps.config.host.cache_max_gb === undefined) return;
    for (const p of Object.values(deps.config.profiles)) {
      if (p.cache !== 'none' && !this.dirs.has(p.cache_dir)) {
        this.dirs.set(p.cache_dir, { bytes: undefined, measuredAt: undefined, lastPruneAt: undefined, overCapSince: undefined, busy: undefined, changed: false });
      }
    }
  }

  /** Starts the measurements that are due (see the header). */
  startDue(): void {
    const now = this.deps.clock.now();
    for (const [dir, s] of this.dirs) {
      if (s.busy) continue;
      const age = s.measuredAt === undefined ? Infinity : now - s.measuredAt;
      if (age >= this.measureEveryMs || (s.changed && age >= this.remeasureAfterJobMs)) this.measure(dir, s);
    }
  }

  snapshot(): CacheObservation[] {
    return [...this.dirs].map(([dir, s]) => ({ dir, bytes: s.bytes, measuredAt: s.measuredAt, overCapSince: s.overCapSince, lastPruneAt: s.lastPruneAt, busy: s.busy }));
  }

  /** A VM of `profile` was deleted: its cache dir may have grown. */
  vmGone(profile: string): void {
    const p = this.deps.config.profiles[profile];
    const s = p && p.cache === 'rw' ? this.dirs.get(p.cache_dir) : undefined;
    if (s) s.changed = true;
  }

  /** Runs a planned prune in the background. */
  prune(dir: string, maxBytes: number, log: Logger): void {
    const s = this.dirs.get(dir);
    if (!s || s.busy) return;
    s.busy = 'pruning';
    this.track((async () => {
      try {
        const report = await this.deps.tool.prune(dir, maxBytes);
        this.measured(s, report.bytes_after ?? s.bytes);
        log.info('pruned cache', { dir, bytes_before: report.bytes_before, bytes_after: report.bytes_after, freed_bytes: report.freed_bytes, files_removed: report.files_removed, dirs_removed: report.dirs_removed, failed: report.failed });
      } catch (err) {
        log.warn('cache prune failed', { dir, error: (err as Error).message });
      } finally {
        s.lastPruneAt = this.deps.clock.now();
        s.busy = undefined;
      }
    })());
  }

  async drain(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  private measure(dir: string, s: DirState): void {
    s.busy = 'measuring';
    s.changed = false;
    this.track((async () => {
      try {
        this.measured(s, await this.deps.tool.measure(dir));
        this.deps.logger.debug('measured cache', { dir, bytes: s.bytes });
      } catch (err) {
        this.deps.logger.warn('cache size could not be measured', { dir, error: (err as Error).message });
      } finally {
        s.measuredAt = this.deps.clock.now();
        s.busy = undefined;
      }
    })());
  }

  private measured(s: DirState, bytes: number | undefined): void {
    const now = this.deps.clock.now();
    s.bytes = bytes;
    s.measuredAt = now;
    const over = bytes !== undefined && bytes > (this.deps.config.host.cache_max_gb ?? Infinity) * 1e9;
    s.overCapSince = over ? (s.overCapSince ?? now) : undefined;
  }

  private track(p: Promise<void>): void {
    this.running.add(p);
    void p.finally(() => this.running.delete(p));
  }
}
