// The planner's per-tier fair share (host.max_vms_per_repo as a map by trust tier) and the cache
// cap (host.cache_max_gb): when a prune is planned, and when it must wait.
import type { Action } from '../../src/core/model.js';
import { creating, job, NOW, observed, plan, runner, seedConfig, vm } from './world.js';

const creates = (actions: Action[]) => actions.flatMap((a) => (a.kind === 'create' ? [`${a.job.repo} ${a.claim.profile}`] : []));
const tiers = {
  coder: { ram_mb: 2048, cpu: 2, timeout_minutes: 60 },
  pr: { ram_mb: 2048, cpu: 2, timeout_minutes: 30, trust: 'untrusted', runner_group_id: 2 },
};
const old = (s: number) => NOW - s * 1000;

describe('fair share per trust tier: host.max_vms_per_repo as a map', () => {
  const capped = seedConfig({ host: { max_vms: 6, max_vms_per_repo: { untrusted: 1 } }, profiles: tiers });

  test("a repository at its untrusted cap waits while another repository's job waits; its trusted jobs are not capped", () => {
    const prs = [1, 2].map((i) => job('pr', { repo: 'acme/oss', createdAt: old(600 - i) }));
    const trusted = [1, 2].map((i) => job('coder', { repo: 'acme/oss', createdAt: old(500 - i) }));
    const other = job('pr', { repo: 'acme/web', createdAt: old(10) });
    const p = plan(observed({ jobs: [...prs, ...trusted, other] }), capped);
    expect(creates(p.actions)).toEqual(['acme/oss pr', 'acme/oss coder', 'acme/oss coder', 'acme/web pr']);
    expect(p.queue.find((q) => q.job_id === prs[1]!.id)?.reason)
      .toBe('fair share: acme/oss has 1 untrusted VMs on this Mac (host.max_vms_per_repo.untrusted: 1) while other repositories wait');
  });

  test('running VMs count toward their own tier only', () => {
    const running = vm('coder', 600);
    const busy = runner('coder', 600, { busy: true, status: 'online', everConnected: true });
    const inProgress = job('coder', { id: 600, repo: 'acme/oss', status: 'in_progress' });
    const pr = job('pr', { repo: 'acme/oss', createdAt: old(300) });
    const other = job('pr', { repo: 'acme/web', createdAt: old(5) });
    const p = plan(observed({ jobs: [inProgress, pr, other], vms: [running], runners: [busy] }), capped);
    expect(creates(p.actions)).toEqual(['acme/oss pr', 'acme/web pr']);
  });

  test('the number form still caps all tiers of a repository together', () => {
    const together = seedConfig({ host: { max_vms: 6, max_vms_per_repo: 1 }, profiles: tiers });
    const pr = job('pr', { repo: 'acme/oss', createdAt: old(300) });
    const trusted = job('coder', { repo: 'acme/oss', createdAt: old(200) });
    const other = job('coder', { repo: 'acme/web', createdAt: old(5) });
    const p = plan(observed({ jobs: [pr, trusted, other] }), together);
    expect(creates(p.actions)).toEqual(['acme/oss pr', 'acme/web coder']);
    expect(p.queue.find((q) => q.job_id === trusted.id)?.reason)
      .toBe('fair share: acme/oss has 1 VMs on this Mac (host.max_vms_per_repo: 1) while other repositories wait');
  });
});

describe('the cache cap: host.cache_max_gb', () => {
  const CACHE = '/srv/cache';
  const OWN = '/srv/pr-cache';
  const profiles = {
    coder: { ram_mb: 2048, cpu: 2, timeout_minutes: 60, cache_dir: CACHE },
    copier: { ram_mb: 2048, cpu: 2, timeout_minutes: 60, cache_dir: CACHE, cache: 'clone' },
    reader: { ram_mb: 2048, cpu: 2, timeout_minutes: 60, cache_dir: CACHE, cache: 'ro' },
    pr: { ram_mb: 2048, cpu: 2, timeout_minutes: 30, trust: 'untrusted', runner_group_id: 2, cache: 'rw', cache_dir: OWN },
    bare: { ram_mb: 2048, cpu: 2, timeout_minutes: 30, cache: 'none' },
  };
  const capped = seedConfig({ host: { max_vms: 6, cache_max_gb: 10 }, profiles });
  const cache = (dir: string, gb: number | undefined, extra: Record<string, unknown> = {}) =>
    ({ dir, bytes: gb === undefined ? undefined : gb * 1e9, measuredAt: NOW - 60_000, overCapSince: gb !== undefined && gb > 10 ? NOW - 60_000 : undefined, lastPruneAt: undefined, busy: undefined, ...extra });
  const scene = (parts: Parameters<typeof observed>[0], caches: ReturnType<typeof cache>[]) => ({ ...observed(parts), caches });
  const prunes = (actions: Action[]) => actions.flatMap((a) => (a.kind === 'prune-cache' ? [a] : []));
  const busyVm = (profile: string, id: number) => ({
    vm: vm(profile, id), runner: runner(profile, id, { busy: true, status: 'online', everConnected: true }), job: job(profile, { id, status: 'in_progress' }),
  });

  test('over the cap with no VM using it: pruned down to 90% of the cap, and no VM that would use it starts meanwhile', () => {
    const waiting = [job('coder'), job('copier'), job('bare')];
    const p = plan(scene({ jobs: waiting }, [cache(CACHE, 12.5)]), capped);
    expect(prunes(p.actions)).toEqual([{
      kind: 'prune-cache', dir: CACHE, maxBytes: 9e9,
      reason: 'cache /srv/cache is 12.5 GB, over host.cache_max_gb (10 GB), and no VM uses it: pruning the least recently used files down to 9.0 GB',
    }]);
    // A job whose VM does not touch that dir is not held back.
    expect(creates(p.actions)).toEqual(['acme/app bare']);
    for (const j of waiting.slice(0, 2)) {
      expect(p.queue.find((q) => q.job_id === j.id)?.reason).toBe('cache /srv/cache is being pruned to stay under host.cache_max_gb (10 GB)');
    }
  });

  test('never while a VM mounting it runs (rw or ro): it waits, says why, and jobs keep starting', () => {
    for (const profile of ['coder', 'reader']) {
      const running = busyVm(profile, 700);
      const next = job('coder');
      const p = plan(scene({ jobs: [running.job, next], vms: [running.vm], runners: [running.runner] }, [cache(CACHE, 12.5)]), capped);
      expect(prunes(p.actions)).toEqual([]);
      expect(p.blocked).toContain('cache /srv/cache is 12.5 GB, over host.cache_max_gb (10 GB): pruned between jobs, once the 1 VM(s) mounting it are gone');
      expect(creates(p.actions)).toEqual(['acme/app coder']);
    }
  });

  test('over the cap for an hour on a Mac that is never idle: VMs that would use it wait until a gap comes', () => {
    const running = busyVm('coder', 705);
    const next = [job('coder'), job('reader'), job('bare')];
    const p = plan(scene({ jobs: [running.job, ...next], vms: [running.vm], runners: [running.runner] }, [cache(CACHE, 12.5, { overCapSince: NOW - 61 * 60_000 })]), capped);
    const reason = 'cache /srv/cache has been over host.cache_max_gb (10 GB) for 61 min: no new VM uses it until the 1 VM(s) mounting it are gone and it is pruned';
    expect(p.blocked).toContain(reason);
    expect(creates(p.actions)).toEqual(['acme/app bare']);
    expect(p.queue.find((q) => q.job_id === next[0]!.id)?.reason).toBe(reason);
    expect(p.queue.find((q) => q.job_id === next[1]!.id)?.reason).toBe(reason);
  });

  test('a creation that will mount or copy it holds the prune; a clone VM (its own copy) and VMs of other cache dirs do not', () => {
    const copying = plan(scene({ creating: [creating('copier', 710)] }, [cache(CACHE, 12.5)]), capped);
    expect(prunes(copying.actions)).toEqual([]);
    expect(copying.blocked).toContain('cache /srv/cache is 12.5 GB, over host.cache_max_gb (10 GB): pruned between jobs, once the 1 creation(s) using it are gone');

    const clone = busyVm('copier', 711);
    const other = busyVm('pr', 712);
    const bare = busyVm('bare', 713);
    const p = plan(scene({ jobs: [clone.job, other.job, bare.job], vms: [clone.vm, other.vm, bare.vm], runners: [clone.runner, other.runner, bare.runner] }, [cache(CACHE, 12.5), cache(OWN, 1)]), capped);
    expect(prunes(p.actions).map((a) => a.dir)).toEqual([CACHE]);
    expect(p.actions.filter((a) => a.kind !== 'prune-cache')).toEqual([]);
  });

  test('a stopped VM mounts nothing: the prune goes ahead beside its removal', () => {
    const stopped = vm('coder', 720, { state: 'stopped' });
    const p = plan(scene({ vms: [stopped] }, [cache(CACHE, 12.5)]), capped);
    expect(prunes(p.actions).map((a) => a.dir)).toEqual([CACHE]);
  });

  test('under the cap or not measured yet: nothing; being pruned: no second prune', () => {
    const j = job('coder');
    for (const c of [cache(CACHE, 9.9), cache(CACHE, undefined), cache(CACHE, 9.9, { busy: 'measuring' })]) {
      const p = plan(scene({ jobs: [j] }, [c]), capped);
      expect(prunes(p.actions)).toEqual([]);
      expect(creates(p.actions)).toEqual(['acme/app coder']);
    }
    const pruning = plan(scene({ jobs: [j] }, [cache(CACHE, 12.5, { busy: 'pruning' })]), capped);
    expect(prunes(pruning.actions)).toEqual([]);
    expect(pruning.queue[0]?.reason).toBe('cache /srv/cache is being pruned to stay under host.cache_max_gb (10 GB)');
  });

  test('over the cap and measured again right now: the gap is kept (no VM that would use it starts), the prune follows the measurement', () => {
    const j = job('coder');
    const p = plan(scene({ jobs: [j] }, [cache(CACHE, 12.5, { busy: 'measuring' })]), capped);
    expect(prunes(p.actions)).toEqual([]);
    expect(p.queue[0]?.reason).toBe('cache /srv/cache was 12.5 GB, over host.cache_max_gb (10 GB), and is being measured again before it is pruned');
    // While VMs use it, a measurement does not lift a drain that is under way.
    const running = busyVm('coder', 730);
    const draining = plan(scene({ jobs: [running.job, j], vms: [running.vm], runners: [running.runner] }, [cache(CACHE, 12.5, { busy: 'measuring', overCapSince: NOW - 61 * 60_000 })]), capped);
    expect(creates(draining.actions)).toEqual([]);
    expect(draining.queue.find((q) => q.job_id === j.id)?.reason).toMatch(/has been over host\.cache_max_gb \(10 GB\) for 61 min/);
  });

  test('a prune that could not get under the cap is not repeated every tick', () => {
    const recent = plan(scene({}, [cache(CACHE, 12.5, { lastPruneAt: NOW - 60_000 })]), capped);
    expect(prunes(recent.actions)).toEqual([]);
    expect(recent.blocked).toContain('cache /srv/cache is 12.5 GB, still over host.cache_max_gb (10 GB) after the last prune (see its log); next try 9 min from now');
    expect(prunes(plan(scene({}, [cache(CACHE, 12.5, { lastPruneAt: NOW - 601_000 })]), capped).actions)).toHaveLength(1);
  });

  test('without host.cache_max_gb nothing is pruned, whatever the size', () => {
    const uncapped = seedConfig({ host: { max_vms: 6 }, profiles });
    expect(prunes(plan(scene({}, [cache(CACHE, 500)]), uncapped).actions)).toEqual([]);
  });

  test('tart unreadable: no prune (a VM using the dir may be running)', () => {
    expect(prunes(plan(scene({ tartDown: true }, [cache(CACHE, 12.5)]), capped).actions)).toEqual([]);
  });
});
