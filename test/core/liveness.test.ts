// Liveness in the planner: every job is served (another Mac's dead claim does not starve it) and
// every VM is bounded (by its profile's timeout in every phase, even without a readable start time).
import type { Action } from '../../src/core/model.js';
import { RUNNER_RESTART_GRACE_MS } from '../../src/core/plan-context.js';
import { creating, job, NOW, observed, plan, runner, seedConfig, vm } from './world.js';

const kinds = (actions: Action[]) => actions.map((a) => (a.kind === 'create' ? `create ${a.vmName}` : a.kind === 'delete-vm' ? `delete-vm ${a.vmName}${a.stop ? ' (stop)' : ''}` : a.kind === 'delete-runner' ? `delete-runner ${a.runnerName}` : `prune-cache ${a.dir}`));
const config = seedConfig(); // boot_timeout_seconds 180, poll_seconds 15

describe("another Mac's claim", () => {
  test('is trusted while a boot can take; then the job is served here with the next suffix, and that runner is never touched', () => {
    const j = job('coder', { id: 70 });
    const theirs = runner('coder', 70, { host: 'mac-b' }); // registered, never connected
    const seen = (ago: number) => ({ jobs: [j], runners: [theirs], runnerFirstSeen: [[theirs.name, NOW - ago * 1000]] as Array<[string, number]> });

    const early = plan(observed(seen(60)), config);
    expect(early.actions).toEqual([]);
    expect(early.queue[0]?.reason).toBe('claimed by tf-coder-70 (another Mac); waiting for its runner');

    const late = plan(observed(seen(180 + 15 + 1)), config);
    expect(kinds(late.actions)).toEqual(['create tf-mac-a-coder-70-2']);
    expect(late.actions[0]).toMatchObject({ runnerName: 'tf-coder-70-2' });
    expect(late.queue[0]?.reason).toMatch(/starting a VM now \(another Mac's claim tf-coder-70 never connected within the boot timeout; serving it here\)/);
    expect(late.actions.some((a) => a.kind === 'delete-runner')).toBe(false);
  });

  test("another Mac's leftover registered runner, named for a job that is not queued, is nobody's supply (issue 29)", () => {
    // tf-coder-60 was claimed by mac-b for job 60, which another runner took (now in progress); the
    // leftover never connected. It is job 60's claim, not supply for job 61: 61 starts at once.
    const gone = job('coder', { id: 60, status: 'in_progress' });
    const j = job('coder', { id: 61 });
    const leftover = runner('coder', 60, { host: 'mac-b' });
    const p = plan(observed({ jobs: [gone, j], runners: [leftover], runnerFirstSeen: [[leftover.name, NOW - 30_000]] }), config);
    expect(kinds(p.actions)).toEqual(['create tf-mac-a-coder-61']);
    // And one named for a job GitHub no longer lists at all.
    const p2 = plan(observed({ jobs: [j], runners: [leftover], runnerFirstSeen: [[leftover.name, NOW - 30_000]] }), config);
    expect(kinds(p2.actions)).toEqual(['create tf-mac-a-coder-61']);
  });

  test('an online idle runner of another Mac keeps being trusted (it will take a job)', () => {
    const j = job('coder', { id: 71 });
    const theirs = runner('coder', 71, { host: 'mac-b', status: 'online', everConnected: true });
    const p = plan(observed({ jobs: [j], runners: [theirs], runnerFirstSeen: [[theirs.name, NOW - 3_600_000]] }), config);
    expect(p.actions).toEqual([]);
  });
});

describe('every VM is bounded by its timeout', () => {
  test('a VM past its timeout is stopped even while its creation is still in flight', () => {
    const v = vm('coder', 80, { startedAt: NOW - 61 * 60_000 });
    const r = runner('coder', 80, { busy: true, status: 'online', everConnected: true });
    const p = plan(observed({ jobs: [job('coder', { id: 80, status: 'in_progress' })], vms: [v], runners: [r], creating: [creating('coder', 80)] }), config);
    expect(kinds(p.actions)).toEqual(['delete-vm tf-mac-a-coder-80 (stop)', 'delete-runner tf-coder-80']);
  });

  test('without a readable start time, the longest timeout counts from when the VM was first seen', () => {
    const v = vm('marketer', 81, { startedAt: undefined }); // marketer: 30 min; longest profile: 60 min
    const r = runner('marketer', 81, { busy: true, status: 'online', everConnected: true });
    const at = (agoMin: number) => plan(observed({ vms: [v], runners: [r], jobs: [job('marketer', { id: 81, status: 'in_progress' })], vmFirstSeen: [[v.name, NOW - agoMin * 60_000]] }), config);
    expect(at(45).actions).toEqual([]);
    expect(kinds(at(61).actions)).toEqual(['delete-vm tf-mac-a-marketer-81 (stop)', 'delete-runner tf-marketer-81']);
  });
});

describe('a runner that goes offline after connecting', () => {
  const j = job('coder', { id: 90 });
  const v = vm('coder', 90, { startedAt: NOW - 60_000 });
  const r = runner('coder', 90, { status: 'offline', everConnected: true });

  test('is given the restart grace (self-update: download, exit, restart) before it counts as lost', () => {
    const p = plan(observed({ jobs: [j], vms: [v], runners: [r], runnerLastOnline: [[r.name, NOW - 20_000]] }), config);
    expect(p.actions).toEqual([]);
    // It still counts as a runner that will take the job: no second VM is started for it.
    expect(p.queue[0]?.reason).toBe('claimed by tf-coder-90 (this Mac); waiting for its runner');
  });

  test('past the grace it is lost: VM and runner go, counted as a failed attempt of the job', () => {
    const p = plan(observed({ jobs: [j], vms: [v], runners: [r], runnerLastOnline: [[r.name, NOW - RUNNER_RESTART_GRACE_MS - 1]] }), config);
    expect(kinds(p.actions)).toEqual(['delete-runner tf-coder-90', 'delete-vm tf-mac-a-coder-90 (stop)', 'create tf-mac-a-coder-90-2']);
    expect(p.actions[1]).toMatchObject({ failure: 'runner-lost' });
  });

  test('the third lost runner of a job is its last: the job is left alone', () => {
    const p = plan(observed({ jobs: [j], vms: [v], runners: [r], failures: [['coder-90', ['runner-lost', 'runner-lost']]], runnerLastOnline: [[r.name, NOW - RUNNER_RESTART_GRACE_MS - 1]] }), config);
    expect(kinds(p.actions)).toEqual(['delete-runner tf-coder-90', 'delete-vm tf-mac-a-coder-90 (stop)']);
    expect(p.queue[0]?.reason).toBe('gave up after 3 failed attempts on this Mac (3× runner lost)');
  });
});

describe('resources the host cannot lose', () => {
  test('below the disk floor no VM starts, and the reason says so', () => {
    const p = plan(observed({ jobs: [job('coder')], freeDiskBytes: 12e9 }), config);
    expect(p.actions).toEqual([]);
    expect(p.queue[0]?.reason).toBe('no new VMs: 12.0 GB free disk is below host.min_free_disk_gb (20 GB)');
    expect(p.blocked).toContain(p.queue[0]?.reason);
    expect(plan(observed({ jobs: [job('coder')], freeDiskBytes: 21e9 }), config).actions).toHaveLength(1);
  });
});

describe('fair share: host.max_vms_per_repo', () => {
  const capped = seedConfig({ host: { max_vms: 5, max_vms_per_repo: 1 } });
  const old = (s: number) => NOW - s * 1000;

  test("a repository at its cap waits while another repository's job runs", () => {
    const matrix = [1, 2, 3].map((i) => job('coder', { repo: 'acme/matrix', createdAt: old(600 - i) }));
    const other = job('coder', { repo: 'acme/web', createdAt: old(10) });
    const p = plan(observed({ jobs: [...matrix, other] }), capped);
    expect(p.actions.filter((a) => a.kind === 'create').map((a) => (a.kind === 'create' ? a.job.repo : ''))).toEqual(['acme/matrix', 'acme/web']);
    expect(p.queue.find((q) => q.job_id === matrix[1]!.id)?.reason).toBe('fair share: acme/matrix has 1 VMs on this Mac (host.max_vms_per_repo: 1) while other repositories wait');
  });

  test('VMs already running count toward the cap; a lone repository is not held back on an idle Mac', () => {
    const running = vm('coder', 500);
    const busy = runner('coder', 500, { busy: true, status: 'online', everConnected: true });
    const inProgress = job('coder', { id: 500, repo: 'acme/matrix', status: 'in_progress' });
    const next = job('coder', { repo: 'acme/matrix', createdAt: old(300) });
    const other = job('coder', { repo: 'acme/web', createdAt: old(5) });
    const withOther = plan(observed({ jobs: [inProgress, next, other], vms: [running], runners: [busy] }), capped);
    expect(withOther.actions.filter((a) => a.kind === 'create').map((a) => (a.kind === 'create' ? a.job.id : 0))).toEqual([other.id]);
    const alone = plan(observed({ jobs: [inProgress, next], vms: [running], runners: [busy] }), capped);
    expect(alone.actions.filter((a) => a.kind === 'create').map((a) => (a.kind === 'create' ? a.job.id : 0))).toEqual([next.id]);
  });
});
