// Boot slots (host.max_concurrent_boots): a burst of jobs on a Mac with RAM for many Linux VMs must
// not start every boot at once. Unbounded, `npm run bench` on a loaded machine admitted 120 jobs in
// one tick; ~80 creations were in flight, boots outlasted vm.boot_timeout_seconds, each retry was
// another boot: 243 clones for 26 jobs run in 10 minutes (issue #21).
import type { Action } from '../../src/core/model.js';
import type { Creating } from '../../src/core/memory.js';
import { creating, job, NOW, observed, plan, runner, seedConfig, vm } from './world.js';

const creates = (actions: Action[]) => actions.filter((a) => a.kind === 'create').map((a) => (a.kind === 'create' ? a.job.id : 0));
const older = (s: number) => NOW - s * 1000;

/** A Mac with RAM for hundreds of 2 GB Linux VMs, so only the boot cap can hold jobs back. */
function bigLinuxMac(host: Record<string, unknown> = {}) {
  return seedConfig({
    host: { total_ram_mb: 1024 * 1024, ...host },
    profiles: { worker: { ram_mb: 2048, cpu: 2, timeout_minutes: 60, os: 'linux' } },
  });
}

const linuxCreating = (jobId: number): Creating => ({ ...creating('worker', jobId), os: 'linux' });

describe('boot slots (host.max_concurrent_boots)', () => {
  test('a burst of 20 queued jobs admits only as many as there are boot slots, oldest first; the rest say why', () => {
    const jobs = Array.from({ length: 20 }, (_, i) => job('worker', { createdAt: older(100 - i) }));
    const p = plan(observed({ jobs }), bigLinuxMac({ max_concurrent_boots: 3 }));
    expect(creates(p.actions)).toEqual(jobs.slice(0, 3).map((j) => j.id));
    const reason = p.queue.find((q) => q.job_id === jobs[3]!.id)?.reason;
    expect(reason).toMatch(/3\/3 VMs being created \(host\.max_concurrent_boots\)/);
  });

  test('the default bounds boots too: a Mac with RAM for 500 VMs does not boot 120 at once', () => {
    const jobs = Array.from({ length: 120 }, (_, i) => job('worker', { createdAt: older(200 - i) }));
    const config = bigLinuxMac();
    const admitted = creates(plan(observed({ jobs }), config).actions);
    expect(admitted.length).toBe(config.host.max_concurrent_boots);
    expect(config.host.max_concurrent_boots).toBeLessThan(120);
  });

  test('creations under way hold their slots: with every slot taken nothing is admitted', () => {
    const busy = [1, 2, 3].map((i) => linuxCreating(9000 + i));
    const jobs = [...busy.map((c) => job('worker', { id: c.claim.jobId, createdAt: older(300) })), job('worker', { createdAt: older(10) })];
    const p = plan(observed({ jobs, creating: busy }), bigLinuxMac({ max_concurrent_boots: 3 }));
    expect(creates(p.actions)).toEqual([]);
  });

  test('a creation whose VM is already listed by tart still holds its slot until its runner started', () => {
    const c = linuxCreating(9101);
    const listed = vm('worker', 9101, { state: 'running', startedAt: NOW - 2_000 });
    const waiting = job('worker', { createdAt: older(10) });
    const p = plan(observed({ jobs: [job('worker', { id: 9101, createdAt: older(60) }), waiting], creating: [c], vms: [listed] }), bigLinuxMac({ max_concurrent_boots: 1 }));
    expect(creates(p.actions)).toEqual([]);
    expect(p.queue.find((q) => q.job_id === waiting.id)?.reason).toMatch(/1\/1 VMs being created/);
  });

  test('a VM whose runner started frees its slot: running VMs do not count, only creations', () => {
    const running = [1, 2, 3].map((i) => vm('worker', 9200 + i));
    const runners = [1, 2, 3].map((i) => runner('worker', 9200 + i, { busy: true, everConnected: true, status: 'online' }));
    const next = job('worker', { createdAt: older(10) });
    const p = plan(observed({ jobs: [next], vms: running, runners }), bigLinuxMac({ max_concurrent_boots: 3 }));
    expect(creates(p.actions)).toEqual([next.id]);
  });

  test('a freed slot goes to the oldest waiting job, even when a younger one is smaller', () => {
    const config = seedConfig({
      host: { total_ram_mb: 1024 * 1024, max_concurrent_boots: 2 },
      profiles: { worker: { ram_mb: 2048, cpu: 2, timeout_minutes: 60, os: 'linux' }, tiny: { ram_mb: 1024, cpu: 1, timeout_minutes: 60, os: 'linux' } },
    });
    const old = job('worker', { createdAt: older(100) });
    const young = job('tiny', { createdAt: older(5) });
    const underWay = job('worker', { id: 9301, createdAt: older(200) });
    const p = plan(observed({ jobs: [young, old, underWay], creating: [linuxCreating(9301)] }), config);
    expect(creates(p.actions)).toEqual([old.id]);
  });
});
