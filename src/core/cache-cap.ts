/**
 * The cache cap policy (`host.cache_max_gb`): which cache dirs to prune now, which take no new VM
 * while they wait for a prune, and why. Pure; plan() joins its answer with the other policies.
 *
 * ## Gotchas
 * - Decided on the last measurement (the daemon's CacheKeeper measures in the background), also
 *   while a new one runs, so a drain that has begun does not lapse meanwhile.
 * - A prune only starts when no VM mounts the dir and no creation uses it: pruning under a running
 *   job would pull files from under it.
 */
import type { Action } from './model.js';
import type { PlanContext } from './plan-context.js';

type PruneAction = Extract<Action, { kind: 'prune-cache' }>;

/** What the cap decides this tick. */
export interface CacheCapDecision {
  /** Prune these dirs now (no VM uses them). */
  prunes: PruneAction[];
  /** Dir → why it takes no new VM now (pruning, or about to be). */
  held: Map<string, string>;
  /** Why a cache over the cap is not pruned yet, for `ls` and the log. */
  blocked: string[];
}

/** A cache over `host.cache_max_gb` is pruned down to this share of the cap, so it is not pruned again after every job. */
const CACHE_PRUNE_TO = 0.9;

/**
 * How long a cache may stay over the cap while VMs keep using it: after that, VMs that would use it
 * wait until the running ones are gone and it is pruned (a busy Mac has no gap between jobs).
 */
const CACHE_DRAIN_AFTER_MS = 3_600_000;

/** A prune that left the cache over the cap (files it could not remove) is tried again after this long. */
const CACHE_PRUNE_RETRY_MS = 600_000;

/**
 * `host.cache_max_gb`: a cache dir measured over the cap is pruned (a `prune-cache` action) once no
 * VM that mounts it runs and no creation that uses it is under way; until then `blocked` says why
 * it waits, and once it has waited CACHE_DRAIN_AFTER_MS no new VM that would use it starts.
 * A `clone` profile's creation copies the dir, so it counts as using it too; its VM, which mounts
 * its own copy, does not. A VM of a profile no longer configured counts as using every cache dir.
 */
export function cacheCap(ctx: PlanContext): CacheCapDecision {
  const held = new Map<string, string>();
  const blocked: string[] = [];
  const prunes: PruneAction[] = [];
  const capGb = ctx.config.host.cache_max_gb;
  if (capGb === undefined || !ctx.world.tart.ok) return { prunes, held, blocked };
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
    prunes.push({ kind: 'prune-cache', dir, maxBytes: target, reason });
    held.set(dir, `cache ${dir} is being pruned to stay under host.cache_max_gb (${capGb} GB)`);
  }
  return { prunes, held, blocked };
}
