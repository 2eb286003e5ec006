import type { Action } from '../../src/core/model.js';
import { creating, job, NOW, observed, plan, runner, seedConfig, vm } from './world.js';

const creates = (actions: Action[]) => actions.filter((a) => a.kind === 'create').map((a) => (a.kind === 'create' ? a.job.id : 0));
const kinds = (actions: Action[]) => actions.map((a) => (a.kind === 'create' ? `create ${a.vmName}` : a.kind === 'delete-vm' ? `delete-vm ${a.vmName}${a.stop ? ' (stop)' : ''}` : a.kind === 'delete-runner' ? `delete-runner ${a.runnerName}` : `prune-cache ${a.dir}`));
const older = (s: number) => NOW - s * 1000;

describe("the seed's packing examples on a 16 GB Mac with 4 GB reserved (RAM ledger; VM and boot caps raised to isolate RAM)", () => {
  const config = seedConfig({ host: { max_vms: 5, max_concurrent_boots: 5 } });
  test('5x coder: all five fit (10240 of 12288 MB)', () => {
    const jobs = [1, 2, 3, 4, 5].map((i) => job('coder', { createdAt: older(10 - i) }));
    const p = plan(observed({ jobs }), config);
    expect(creates(p.actions)).toEqual(jobs.map((j) => j.id));
  });
  test('2x marketer: both fit', () => {
    const jobs = [job('marketer'), job('marketer')];
    expect(creates(plan(observed({ jobs }), config).actions)).toHaveLength(2);
  });
  test('developer + marketer: the marketer waits', () => {
    const dev = job('developer', { createdAt: older(20) });
    const mkt = job('marketer', { createdAt: older(10) });
    const p = plan(observed({ jobs: [mkt, dev] }), config);
    expect(creates(p.actions)).toEqual([dev.id]);
    expect(p.queue.find((q) => q.job_id === mkt.id)?.reason).toBe('needs 5120 MB, 4096 MB free');
  });
  test('developer + 2x coder: all three fit exactly (12288 MB)', () => {
    const jobs = [job('developer', { createdAt: older(30) }), job('coder', { createdAt: older(20) }), job('coder', { createdAt: older(10) })];
    const p = plan(observed({ jobs }), config);
    expect(creates(p.actions)).toHaveLength(3);
    expect(p.ledger).toMatchObject({ ceiling_mb: 12288 });
  });
});

describe('admission', () => {
  test("Apple's cap: at most max_vms (2) macOS VMs, the rest wait and say why", () => {
    const jobs = [1, 2, 3].map((i) => job('coder', { createdAt: older(10 - i) }));
    const p = plan(observed({ jobs }), seedConfig());
    expect(creates(p.actions)).toEqual([jobs[0]!.id, jobs[1]!.id]);
    expect(p.queue.find((q) => q.job_id === jobs[2]!.id)?.reason).toBe('2/2 macOS VMs running');
  });

  test('Linux-guest profiles do not count against the macOS cap', () => {
    const config = seedConfig({ profiles: { coder: { ram_mb: 2048, cpu: 2, timeout_minutes: 60 }, linux: { ram_mb: 1024, cpu: 1, timeout_minutes: 60, os: 'linux' } } });
    const jobs = [job('coder'), job('coder'), job('linux'), job('linux')];
    expect(creates(plan(observed({ jobs }), config).actions)).toHaveLength(4);
  });

  test('oldest first; a smaller job backfills past a waiting larger one while it has waited less than the bound', () => {
    const config = seedConfig({ host: { max_vms: 5 } });
    const vms = [vm('marketer', 1), vm('coder', 2)]; // 7168 MB used, 5120 free
    const runners = [runner('marketer', 1, { busy: true, everConnected: true, status: 'online' }), runner('coder', 2, { busy: true, everConnected: true, status: 'online' })];
    const dev = job('developer', { createdAt: older(100) });
    const small = job('coder', { createdAt: older(50) });
    const p = plan(observed({ jobs: [dev, small], vms, runners }), config);
    expect(creates(p.actions)).toEqual([small.id]);
    expect(p.actions[0]?.reason).toMatch(/backfill/);
    expect(p.queue.find((q) => q.job_id === dev.id)?.reason).toBe('needs 8192 MB, 5120 MB free');
  });

  test('aging: once the oldest waiting job has waited past backfill_max_wait_seconds, nothing passes it', () => {
    const config = seedConfig({ host: { max_vms: 5, backfill_max_wait_seconds: 600 } });
    const vms = [vm('marketer', 1), vm('coder', 2)];
    const runners = [runner('marketer', 1, { busy: true, everConnected: true, status: 'online' }), runner('coder', 2, { busy: true, everConnected: true, status: 'online' })];
    const dev = job('developer', { createdAt: older(601) });
    const small = job('coder', { createdAt: older(50) });
    const p = plan(observed({ jobs: [dev, small], vms, runners }), config);
    expect(creates(p.actions)).toEqual([]);
    expect(p.queue.find((q) => q.job_id === small.id)?.reason).toBe(`held for older job ${dev.id} (waiting 601 s)`);
  });

  test('creations under way hold their RAM until their VM is listed', () => {
    const config = seedConfig({ host: { max_vms: 5 } });
    const mkt = job('marketer');
    const p = plan(observed({ jobs: [mkt], creating: [creating('developer', 9, 8192)] }), config);
    expect(creates(p.actions)).toEqual([]);
    expect(p.ledger).toMatchObject({ used_mb: 8192, vms: 1 });
  });

  test('a running macOS VM that is not ours takes a slot and its RAM', () => {
    const o = observed({ jobs: [job('coder'), job('coder')] });
    if (o.tart.ok) o.tart.value.foreign.push({ name: 'my-own-vm', state: 'running', ramMb: 4096, os: 'darwin' });
    const p = plan(o, seedConfig());
    expect(creates(p.actions)).toHaveLength(1);
    expect(p.ledger).toMatchObject({ used_mb: 4096 + 2048, foreign_mb: 4096, vms: 2 });
  });

  test('a job whose VMs went max_boot_attempts times before it ran is left alone, whatever the causes', () => {
    const j = job('coder');
    const p = plan(observed({ jobs: [j], failures: [[`coder-${j.id}`, ['boot-failed', 'runner-lost', 'boot-failed']]] }), seedConfig());
    expect(creates(p.actions)).toEqual([]);
    expect(p.queue[0]?.reason).toBe('gave up after 3 failed attempts on this Mac (2× boot failed, 1× runner lost)');
    // One fewer: it is tried again.
    const q = plan(observed({ jobs: [j], failures: [[`coder-${j.id}`, ['boot-failed', 'runner-unused']]] }), seedConfig());
    expect(creates(q.actions)).toHaveLength(1);
  });

  test('admission paused after a VZ limit error', () => {
    const o = observed({ jobs: [job('coder')], admissionPausedUntil: { until: NOW + 60_000, reason: 'VZ limit reached' } });
    const p = plan(o, seedConfig());
    expect(creates(p.actions)).toEqual([]);
    expect(p.queue[0]?.reason).toBe('new VMs paused: VZ limit reached');
  });

  test('draining: nothing is admitted and each job says why; a finished VM is still cleaned up', () => {
    const j = job('coder');
    const done = vm('coder', 77, { state: 'stopped' });
    const o = { ...observed({ jobs: [j], vms: [done] }), draining: { since: NOW - 60_000, note: 'drained by ops at 2026-01-01T00:00:00.000Z' } };
    const p = plan(o, seedConfig());
    expect(creates(p.actions)).toEqual([]);
    expect(kinds(p.actions)).toEqual([`delete-vm ${done.name}`]);
    expect(p.queue.map((q) => q.reason)).toEqual(['this Mac is draining (drained by ops at 2026-01-01T00:00:00.000Z): it claims no new job until `tart-fleet resume`']);
    expect(creates(plan(observed({ jobs: [j] }), seedConfig()).actions)).toEqual([j.id]);
  });
});

describe('demand', () => {
  test('waiting jobs, GitHub-hosted jobs and unknown labels are not demand; unknown self-hosted labels are listed', () => {
    const jobs = [job('coder', { status: 'waiting' }), job('x', { labels: ['ubuntu-latest'] }), job('x', { labels: ['self-hosted', 'gpu'] })];
    const p = plan(observed({ jobs }), seedConfig());
    expect(p.actions).toEqual([]);
    expect(p.queue.map((q) => q.reason)).toEqual(['no profile matches [self-hosted, gpu]']);
  });

  test("a job another Mac claimed is not claimed again; the rest are", () => {
    const a = job('coder', { createdAt: older(30) });
    const b = job('coder', { createdAt: older(20) });
    const p = plan(observed({ jobs: [a, b], runners: [runner('coder', a.id, { host: 'mac-b' })] }), seedConfig());
    expect(creates(p.actions)).toEqual([b.id]);
    expect(p.queue.find((q) => q.job_id === a.id)?.reason).toBe(`claimed by tf-coder-${a.id} (another Mac); waiting for its runner`);
  });

  test('an idle runner (any Mac) will take a queued job of its profile: demand is queued minus live runners', () => {
    const done = job('coder', { status: 'in_progress', runnerName: 'someone' });
    const q1 = job('coder', { createdAt: older(30) });
    const q2 = job('coder', { createdAt: older(20) });
    const idle = runner('coder', done.id, { host: 'mac-b', status: 'online', everConnected: true });
    const p = plan(observed({ jobs: [done, q1, q2], runners: [idle] }), seedConfig());
    expect(creates(p.actions)).toEqual([q1.id]);
  });

  test('GitHub swapped jobs: a queued job whose claim runner is busy on another job is claimed again as attempt 2', () => {
    const x = job('coder');
    const busy = runner('coder', x.id, { busy: true, status: 'online', everConnected: true });
    const p = plan(observed({ jobs: [x], runners: [busy], vms: [vm('coder', x.id)] }), seedConfig());
    expect(kinds(p.actions)).toEqual([`create tf-mac-a-coder-${x.id}-2`]);
  });

  test('two ticks never create twice: a creation under way, or its runner and VM, satisfy the job', () => {
    const j = job('coder');
    expect(plan(observed({ jobs: [j], creating: [creating('coder', j.id)] }), seedConfig()).actions).toEqual([]);
    const p = plan(observed({ jobs: [j], runners: [runner('coder', j.id)], vms: [vm('coder', j.id, { startedAt: NOW - 5_000 })] }), seedConfig());
    expect(p.actions).toEqual([]);
    expect(p.queue[0]?.reason).toBe(`claimed by tf-coder-${j.id} (this Mac); waiting for its runner`);
  });
});

describe('garbage collection', () => {
  test('finished: guest powered off, or runner gone after its job → VM deleted (stopped first if running)', () => {
    const p = plan(observed({ vms: [vm('coder', 1, { state: 'stopped' }), vm('coder', 2)] }), seedConfig());
    expect(kinds(p.actions)).toEqual(['delete-vm tf-mac-a-coder-1', 'delete-vm tf-mac-a-coder-2 (stop)']);
  });

  test('past the profile timeout → VM stopped and deleted, runner deleted, and the reason says so', () => {
    const r = runner('marketer', 5, { busy: true, status: 'online', everConnected: true });
    const p = plan(observed({ vms: [vm('marketer', 5, { startedAt: NOW - 31 * 60_000 })], runners: [r] }), seedConfig());
    expect(kinds(p.actions)).toEqual(['delete-vm tf-mac-a-marketer-5 (stop)', `delete-runner ${r.name}`]);
    expect(p.actions[0]?.reason).toMatch(/timeout/);
  });

  test('runner idle past the registration timeout → runner and VM go, the idle runner first so no job can reach it mid-stop', () => {
    const r = runner('coder', 6, { status: 'online', everConnected: true });
    const j = job('coder', { id: 6 });
    const p = plan(observed({ jobs: [j], vms: [vm('coder', 6, { startedAt: NOW - 301_000 })], runners: [r] }), seedConfig());
    expect(kinds(p.actions).slice(0, 2)).toEqual([`delete-runner ${r.name}`, 'delete-vm tf-mac-a-coder-6 (stop)']);
    expect(p.actions[1]).toMatchObject({ keepIfRunnerBusy: r.id, failure: 'runner-unused' });
  });

  test('VM past the boot timeout whose runner never connected → both go, and the still-queued job is claimed afresh', () => {
    const j = job('coder', { id: 7 });
    const r = runner('coder', 7);
    const p = plan(observed({ jobs: [j], vms: [vm('coder', 7, { startedAt: NOW - 181_000 })], runners: [r] }), seedConfig());
    // The old VM's RAM is still counted (its deletion may fail), but with 10 GB free the retry fits now.
    expect(kinds(p.actions)).toEqual([`delete-runner ${r.name}`, 'delete-vm tf-mac-a-coder-7 (stop)', 'create tf-mac-a-coder-7-2']);
    expect(p.actions[1]).toMatchObject({ failure: 'boot-failed' });
  });

  test('our runner with no VM (crash after the claim) is deleted and the job claimed again as the next attempt', () => {
    const j = job('coder', { id: 8 });
    const p = plan(observed({ jobs: [j], runners: [runner('coder', 8)] }), seedConfig());
    expect(kinds(p.actions)).toEqual(['delete-runner tf-coder-8', 'create tf-mac-a-coder-8-2']);
  });

  test("other Macs' runners and VMs that are not ours are never touched", () => {
    const o = observed({ runners: [runner('coder', 9, { host: 'mac-b', status: 'online', everConnected: true })] });
    if (o.tart.ok) o.tart.value.foreign.push({ name: 'tf-mac-b-coder-9', state: 'stopped', ramMb: 2048, os: 'darwin' });
    expect(plan(o, seedConfig()).actions).toEqual([]);
  });

  test('ghost demand: an idle runner whose job vanished, with nothing of its profile queued, goes with its VM', () => {
    const r = runner('coder', 10, { status: 'online', everConnected: true });
    const p = plan(observed({ vms: [vm('coder', 10)], runners: [r] }), seedConfig());
    expect(kinds(p.actions)).toEqual([`delete-runner ${r.name}`, 'delete-vm tf-mac-a-coder-10 (stop)']);
  });
});

describe('fail closed', () => {
  test('GitHub unreadable: no VM is created and no runner deleted; only stopped and overdue VMs go', () => {
    const vms = [vm('coder', 1), vm('coder', 2, { state: 'stopped' }), vm('marketer', 3, { startedAt: NOW - 40 * 60_000 })];
    const p = plan(observed({ githubDown: true, vms }), seedConfig());
    expect(kinds(p.actions)).toEqual(['delete-vm tf-mac-a-coder-2', 'delete-vm tf-mac-a-marketer-3 (stop)']);
    expect(p.blocked[0]).toMatch(/GitHub could not be read/);
  });

  test('tart unreadable: nothing at all happens, and the ledger is unknown', () => {
    const p = plan(observed({ tartDown: true, jobs: [job('coder')], runners: [runner('coder', 1)] }), seedConfig());
    expect(p.actions).toEqual([]);
    expect(p.ledger).toBeUndefined();
  });

  test('creations under way are never garbage-collected, whatever GitHub shows', () => {
    const p = plan(observed({ creating: [creating('coder', 11)], vms: [vm('coder', 11, { state: 'stopped' })] }), seedConfig());
    expect(p.actions).toEqual([]);
  });
});

describe('after a restart', () => {
  test('an adopted VM still booting with an unconnected runner gets a grace, then is replaced', () => {
    const j = job('coder', { id: 12 });
    const r = runner('coder', 12);
    const v = vm('coder', 12, { startedAt: NOW - 40_000 });
    const fresh = observed({ jobs: [j], runners: [r], vms: [v], processStartedAt: NOW - 10_000 });
    expect(plan(fresh, seedConfig()).actions).toEqual([]);
    const later = observed({ jobs: [j], runners: [r], vms: [v], processStartedAt: NOW - 31_000 });
    expect(kinds(plan(later, seedConfig()).actions)).toEqual(['delete-runner tf-coder-12', 'delete-vm tf-mac-a-coder-12 (stop)', 'create tf-mac-a-coder-12-2']);
  });
});
