// The fair share counts a VM under the repository of the job GitHub actually gave its runner (audit
// turn4-security N2, e10: with max_vms_per_repo 1, the VM claimed for small-app ran big-lib's job; the
// planner still counted it for small-app, so small-app waited behind big-lib's matrix with a VM
// "of its own" that was busy elsewhere). GitHub hands a JIT runner any matching queued job; the fake
// GitHub's broker does the same (src/sim/github/broker.ts).
import type { Action } from '../../src/core/model.js';
import { runnerName } from '../../src/core/names.js';
import { job, NOW, observed, plan, runner, seedConfig, vm } from './world.js';

const creates = (actions: Action[]) => actions.flatMap((a) => (a.kind === 'create' ? [`${a.job.repo}#${a.job.id}`] : []));
const old = (s: number) => NOW - s * 1000;

test("a VM whose runner GitHub gave another repository's job counts for that repository", () => {
  const config = seedConfig({ host: { max_vms: 6, max_vms_per_repo: 1 }, profiles: { coder: { ram_mb: 2048, cpu: 2, timeout_minutes: 60 } } });
  const busy = (claimedJob: number) => runner('coder', claimedJob, { busy: true, status: 'online', everConnected: true });
  // VM for big-lib#1 runs big-lib#1; VM for small-app#7 runs big-lib#2 (GitHub's choice).
  const ranHere = job('coder', { id: 1, repo: 'acme/big-lib', status: 'in_progress', createdAt: old(900), runnerName: runnerName({ profile: 'coder', jobId: 1, attempt: 1 }) });
  const rerouted = job('coder', { id: 2, repo: 'acme/big-lib', status: 'in_progress', createdAt: old(800), runnerName: runnerName({ profile: 'coder', jobId: 7, attempt: 1 }) });
  const bigLibNext = job('coder', { id: 3, repo: 'acme/big-lib', createdAt: old(700) });
  const smallApp = job('coder', { id: 7, repo: 'acme/small-app', createdAt: old(600) });
  const p = plan(observed({ jobs: [ranHere, rerouted, bigLibNext, smallApp], vms: [vm('coder', 1), vm('coder', 7)], runners: [busy(1), busy(7)] }), config);
  // big-lib holds two VMs: its next job waits; small-app holds none, so it gets one.
  expect(p.queue.find((q) => q.job_id === 3)?.reason).toBe('fair share: acme/big-lib has 2 VMs on this Mac (host.max_vms_per_repo: 1) while other repositories wait');
  expect(creates(p.actions)).toEqual(['acme/small-app#7']);
});
