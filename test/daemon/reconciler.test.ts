import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RUN_LOG_CHECK_EVERY_MS } from '../../src/daemon/reconciler.js';
import { buildDaemon } from '../../src/cli/wiring.js';
import { plan } from '../../src/core/plan.js';
import { memoryLogger } from '../../src/core/logger.js';
import { HostMemory, VolatileStore } from '../../src/daemon/host-memory.js';
import type { MemoryStore } from '../../src/core/ports.js';
import { MemoryWorld, type Session } from './memory-world.js';
import { seedConfig } from '../core/world.js';

const stateDirs: string[] = [];
afterAll(() => stateDirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

interface DaemonOptions {
  /** This Mac's name (github.runner_name). Default mac-a. */
  host?: string;
  /** Where its failure counts persist; pass the same store to a second daemon to play a restart. */
  store?: MemoryStore;
  logDir?: string;
}

/** One Mac's daemon on the in-memory world, put together the way `tart-fleet run` does it. */
function daemon(world: MemoryWorld, opts: DaemonOptions = {}) {
  const host = opts.host ?? 'mac-a';
  const session: Session = world.session(host);
  const seed = seedConfig();
  // Its own state dir: the daemon writes its job history there (daemon/history.ts).
  const stateDir = mkdtempSync(join(tmpdir(), 'tf-reconciler-state-'));
  stateDirs.push(stateDir);
  const config = { ...seed, github: { ...seed.github, runner_name: host }, host: { ...seed.host, state_dir: stateDir, ...(opts.logDir ? { log_dir: opts.logDir } : {}) } };
  const logger = memoryLogger();
  const memory = new HostMemory(world.now, opts.store ?? new VolatileStore(), logger);
  const reconciler = buildDaemon(config, { github: session.github(), tart: session.tart(), guest: session.guest(), clock: session.clock(), logger }, { memory });
  return { reconciler, session, logger, config };
}

async function planNow(d: ReturnType<typeof daemon>) {
  const { world, memory } = await d.reconciler.observe();
  return plan(world, memory, d.config);
}

/** Ticks (and lets creations finish) until `done()` or the step budget runs out; time moves 30 s a step. */
async function settle(world: MemoryWorld, daemons: Array<ReturnType<typeof daemon>>, done: () => boolean, steps = 40, onStep?: () => void) {
  for (let i = 0; i < steps && !done(); i++) {
    for (const d of daemons) {
      await d.reconciler.tick();
      await d.reconciler.drain();
    }
    onStep?.();
    world.now += 30_000;
  }
}

const runnersLeft = (w: MemoryWorld) => [...w.runners.values()].map((r) => r.name);

test('jobs flow: claimed, booted, run exactly once, and everything is cleaned up after', async () => {
  const world = new MemoryWorld();
  const jobs = [world.queue('coder', 90), world.queue('coder', 60)];
  const d = daemon(world);
  await d.reconciler.tick();
  await d.reconciler.drain();
  expect(world.ourVms('mac-a').map((v) => v.state)).toEqual(['running', 'running']);
  expect(jobs.map((j) => world.jobs.get(j.id)?.status)).toEqual(['in_progress', 'in_progress']);

  // A second tick while they run creates nothing more.
  await d.reconciler.tick();
  await d.reconciler.drain();
  expect(d.session.calls.filter((c) => c === 'clone')).toHaveLength(2);

  world.finishRunningJobs();
  await settle(world, [d], () => world.ourVms('mac-a').length === 0);
  expect(world.ourVms('mac-a')).toEqual([]);
  expect(runnersLeft(world)).toEqual([]);
  expect(world.assignments.map((a) => a.jobId).sort()).toEqual(jobs.map((j) => j.id).sort());
  // The JIT configs never reached a log line.
  expect(JSON.stringify(d.logger.entries)).not.toMatch(/JIT-SECRET/);
});

test('a running VM is read with tart get once, not every tick; the ledger still sees it until it stops', async () => {
  const world = new MemoryWorld();
  world.queue('coder', 600);
  const d = daemon(world);
  await d.reconciler.tick();
  await d.reconciler.drain();
  const [vm] = world.ourVms('mac-a');
  expect(vm?.state).toBe('running');
  const getsBefore = d.session.calls.filter((c) => c === 'get').length;
  for (let i = 0; i < 3; i++) {
    const report = await d.reconciler.tick();
    expect(report.plan.ledger?.used_mb).toBe(2048);
  }
  expect(d.session.calls.filter((c) => c === 'get').length - getsBefore).toBeLessThanOrEqual(1);

  // Once tart lists it as stopped, it is read again (and its removal follows).
  world.finishRunningJobs();
  const getsAtStop = d.session.calls.filter((c) => c === 'get').length;
  await settle(world, [d], () => world.ourVms('mac-a').length === 0);
  expect(d.session.calls.filter((c) => c === 'get').length).toBeGreaterThan(getsAtStop);
  expect(world.ourVms('mac-a')).toEqual([]);
});

test('a job GitHub never routes to our runners gets max_boot_attempts VMs at most, then is left alone with the reason, also after a restart; others still run', async () => {
  const world = new MemoryWorld();
  const stuck = world.queue('coder', 120);
  world.unroutable.add(stuck.id);
  const store = new VolatileStore();
  const d = daemon(world, { store });
  const failures = () => d.reconciler.memory.snapshot().failures.get(`coder-${stuck.id}`)?.causes.length ?? 0;
  await settle(world, [d], () => failures() >= 3, 90);
  await settle(world, [d], () => false, 30); // 15 more simulated minutes
  expect(admissions(d, stuck.id)).toBe(3);
  expect(world.ourVms('mac-a')).toEqual([]);
  expect(runnersLeft(world)).toEqual([]);
  const plan = await planNow(d);
  expect(plan.queue.find((q) => q.job_id === stuck.id)?.reason).toMatch(/^gave up after 3 failed attempts on this Mac \(3× runner got no job\); runners made for it got no job, so GitHub may not route it to this runner group/);

  // A restart remembers the give-up (the store outlives the process): no new VM for that job.
  d.session.crash();
  const again = daemon(world, { store });
  await settle(world, [again], () => false, 10);
  expect(admissions(again, stuck.id)).toBe(0);
  expect((await planNow(again)).queue.find((q) => q.job_id === stuck.id)?.reason).toMatch(/^gave up after 3 failed attempts/);
  expect(d.logger.entries.filter((e) => e.level === 'warn' && /leaving a job alone/.test(e.msg))).toHaveLength(1);

  // A routable job of the same profile is not held back by it.
  const fine = world.queue('coder', 10);
  await settle(world, [again], () => world.assignments.some((a) => a.jobId === fine.id));
  expect(world.assignments.map((a) => a.jobId)).toEqual([fine.id]);
});

/** How many times the daemon admitted (claimed and began a VM for) this job. */
function admissions(d: ReturnType<typeof daemon>, jobId: number): number {
  return d.logger.entries.filter((e) => e.msg === 'admitting job' && e.ctx.job === jobId).length;
}

test('an idle runner that takes a job just as it is being reaped keeps its VM, which then runs the job', async () => {
  const world = new MemoryWorld();
  world.queue('coder', 600);
  const d = daemon(world);
  await d.reconciler.tick();
  await d.reconciler.drain();
  world.finishRunningJobs();
  // Its job done, a fresh VM for a second job sits idle past the registration timeout...
  const second = world.queue('coder', 10);
  world.unroutable.add(second.id);
  await settle(world, [d], () => world.ourVms('mac-a').some((v) => v.state === 'running'), 5);
  world.now += 301_000;
  // ...and GitHub hands it a job between our observation and the runner's deletion.
  d.session.beforeCall = (name) => {
    if (name !== 'deleteRunner') return;
    world.unroutable.delete(second.id);
    world.assignIdleRunners();
  };
  await d.reconciler.tick();
  d.session.beforeCall = undefined;
  expect(world.jobs.get(second.id)?.status).toBe('in_progress');
  expect(world.ourVms('mac-a').map((v) => v.state)).toEqual(['running']);
  expect(d.logger.entries.some((e) => e.msg.startsWith('keeping VM: its runner took a job'))).toBe(true);

  world.finishRunningJobs();
  await settle(world, [d], () => world.ourVms('mac-a').length === 0);
  expect(world.assignments.filter((a) => a.jobId === second.id)).toHaveLength(1);
  expect(runnersLeft(world)).toEqual([]);
});

describe('a crash between any two creation steps heals on the next start', () => {
  const steps = ['getJob', 'createJitRunner', 'clone', 'set', 'run', 'ip', 'launchRunner'];
  test.each(steps)('crash right after %s', async (step) => {
    const world = new MemoryWorld();
    const job = world.queue('coder');
    const first = daemon(world);
    first.session.crashAfter = step;
    await first.reconciler.tick();
    await new Promise((r) => setImmediate(r)); // the creation runs until the crash freezes it
    // The crash happened where it was meant to: that step was the last call the first daemon made.
    expect(first.session.calls.at(-1)).toBe(step);

    const second = daemon(world);
    const running = () => world.ourVms('mac-a').filter((v) => v.state === 'running').length;
    let maxVms = running();
    await settle(world, [second], () => world.jobs.get(job.id)?.status === 'in_progress', 20, () => {
      maxVms = Math.max(maxVms, running());
    });
    expect(world.jobs.get(job.id)?.status).toBe('in_progress');
    expect(maxVms).toBe(1);

    world.finishRunningJobs();
    await settle(world, [second], () => world.ourVms('mac-a').length === 0 && world.runners.size === 0);
    expect(world.assignments.filter((a) => a.jobId === job.id)).toHaveLength(1);
    expect(world.ourVms('mac-a')).toEqual([]);
    expect(runnersLeft(world)).toEqual([]);
  });
});

test('two daemons on one org create exactly as many VMs as there were jobs', async () => {
  const world = new MemoryWorld();
  const jobs = [1, 2, 3, 4, 5, 6].map((i) => world.queue('coder', 100 - i));
  const a = daemon(world, { host: 'mac-a' });
  const b = daemon(world, { host: 'mac-b' });
  const clones = () => [a, b].reduce((n, d) => n + d.session.calls.filter((c) => c === 'clone').length, 0);
  for (let i = 0; i < 20 && jobs.some((j) => world.jobs.get(j.id)?.status !== 'completed'); i++) {
    await Promise.all([a.reconciler.tick(), b.reconciler.tick()]);
    await Promise.all([a.reconciler.drain(), b.reconciler.drain()]);
    world.finishRunningJobs();
    world.now += 30_000;
  }
  expect(jobs.map((j) => world.jobs.get(j.id)?.status)).toEqual(jobs.map(() => 'completed'));
  expect(clones()).toBe(jobs.length);
  expect(world.assignments).toHaveLength(jobs.length);
  // Both Macs took part: the claim (409) decided who took which job.
  expect(a.session.calls.filter((c) => c === 'clone').length).toBeGreaterThan(0);
  expect(b.session.calls.filter((c) => c === 'clone').length).toBeGreaterThan(0);
});

test('GitHub down: no VM is created or deleted on missing evidence, and the tick reports failure', async () => {
  const world = new MemoryWorld();
  world.queue('coder');
  const d = daemon(world);
  await d.reconciler.tick();
  await d.reconciler.drain();
  expect(world.ourVms('mac-a')).toHaveLength(1);
  world.githubDown = true;
  world.now += 10 * 60_000; // long past boot and registration timeouts
  const report = await d.reconciler.tick();
  expect(report.ok).toBe(false);
  expect(report.plan.actions).toEqual([]);
  expect(world.ourVms('mac-a')).toHaveLength(1);
});

test('run logs past their retention are looked for every 10 minutes, not every tick', async () => {
  const logDir = mkdtempSync(join(tmpdir(), 'tf-reconciler-logs-'));
  try {
    const world = new MemoryWorld();
    const d = daemon(world, { logDir });
    // The world's clock is in 2027: a log written now is months past any retention.
    const staleLog = (jobId: number) => {
      const path = join(logDir, `tf-mac-a-coder-${jobId}.log`);
      writeFileSync(path, 'boot\n');
      return path;
    };
    const first = staleLog(1);
    await d.reconciler.tick();
    expect(existsSync(first)).toBe(false);

    const second = staleLog(2);
    world.now += RUN_LOG_CHECK_EVERY_MS - 30_000;
    await d.reconciler.tick();
    expect(existsSync(second)).toBe(true);

    world.now += 30_000;
    await d.reconciler.tick();
    expect(existsSync(second)).toBe(false);
    expect(JSON.stringify(d.logger.entries)).toContain('tf-mac-a-coder-2');
  } finally {
    rmSync(logDir, { recursive: true, force: true });
  }
});
