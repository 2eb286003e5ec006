// The planner's per-tier fair share (host.max_vms_per_repo as a map by trust tier) and the cache
// cap (host.cache_max_gb): when a prune is planned, and when it must wait.
import type { Action } from '../../src/core/model.js';
import { job, NOW, observed, plan, runner, seedConfig, vm } from './world.js';

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
