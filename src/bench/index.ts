/**
 * `npm run bench`: the figures the README quotes, measured, never asserted by a timed test.
 *
 * 1. GitHub API cost of discovery for an org of 1,000 repositories (requests and 304s per sweep).
 * 2. Planner cost: plan() over a large observed world (thousands of queued jobs and runners).
 * 3. The simulated world end to end: jobs per minute of wall time through the real daemon, and the
 *    daemon's resident memory (VmRSS, sampled from /proc while it works).
 *
 * Prints one JSON object on stdout and a readable table on stderr. Options: `--jobs N` (world run).
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { validateConfig } from '../config/load.js';
import { plan } from '../core/plan.js';
import type { Job, Runner } from '../core/ports.js';
import type { Observed } from '../core/model.js';
import { benchGithubSweep } from './github-sweep.js';
import { SimWorld } from '../sim/world.js';

async function main(): Promise<void> {
  const jobsArg = process.argv.indexOf('--jobs');
  const worldJobs = jobsArg > 0 ? Number(process.argv[jobsArg + 1]) : 120;
  const results: Record<string, unknown> = {};

  results.github_sweep = await benchGithubSweep();
  results.planner = benchPlanner();
  results.world = await benchWorld(worldJobs);

  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
}

function benchPlanner(): Record<string, number> {
  const config = validateConfig(
    {
      github: { org: 'bench', runner_name: 'mac-a' },
      host: { total_ram_mb: 65536, reserved_ram_gb: 4, max_vms: 2 },
      profiles: { coder: { ram_mb: 2048, cpu: 2, timeout_minutes: 60 }, developer: { ram_mb: 8192, cpu: 6, timeout_minutes: 60 } },
    },
    'bench',
    { env: {}, hostname: 'bench', totalMemBytes: 0 },
  ).config;
  const now = Date.now();
  const jobs: Job[] = [];
  for (let i = 0; i < 5000; i++) {
    jobs.push({ id: i + 1, runId: i + 1, repo: `bench/r${i % 1000}`, name: `j${i}`, status: i % 5 === 0 ? 'in_progress' : 'queued', labels: ['self-hosted', i % 3 ? 'coder' : 'developer'], createdAt: now - i * 1000, runnerName: null });
  }
  const runners: Runner[] = [];
  for (let i = 0; i < 500; i++) {
    runners.push({ id: i + 1, name: `tf-coder-${i + 1}`, labels: ['self-hosted', 'coder', `tf-host-mac-${i % 10}`], status: 'online', busy: i % 2 === 0, everConnected: true });
  }
  const observed: Observed = {
    now,
    processStartedAt: now,
    tart: { ok: true, value: { ours: [], foreign: [] } },
    github: { ok: true, value: { jobs, runners, stats: { requests: 0, notModified: 0, rateLimitRemaining: null, rateLimitReset: null, coldestRepoAgeSeconds: 0, repositories: 1000 } } },
    creating: new Map(),
    failedBoots: new Map(),
  };
  plan(observed, config); // warm-up
  const rounds = 5;
  const start = performance.now();
  for (let i = 0; i < rounds; i++) plan(observed, config);
  const ms = (performance.now() - start) / rounds;
  process.stderr.write(`planner: ${ms.toFixed(1)} ms per plan() over 5,000 jobs and 500 runners\n`);
  return { jobs: jobs.length, runners: runners.length, ms_per_plan: Math.round(ms * 10) / 10 };
}

async function benchWorld(count: number): Promise<Record<string, number>> {
  // A big simulated Mac so the scheduler, not the RAM ceiling, is what is measured: Linux-guest
  // profile (no macOS cap), 1 s polls, simulated 30 s jobs and 20 s boots at x100.
  const world = await SimWorld.create({
    ramGb: 1024,
    speed: 100,
    runnerName: 'bench-mac',
    // The VZ limit binds macOS guests; these stand for Linux guests, so lift the fake's limit.
    simEnv: { TART_SIM_MAX_RUNNING: '1000' },
    config: { host: { max_vms: 2 }, profiles: { worker: { ram_mb: 2048, cpu: 2, timeout_minutes: 60, os: 'linux' } } },
  });
  try {
    const ids = Array.from({ length: count }, () => world.queue('worker', { durationS: 30 }));
    const started = performance.now();
    const daemon = world.startDaemon();
    let peakRssKb = 0;
    const sample = setInterval(() => {
      try {
        const status = readFileSync(`/proc/${daemon.pid}/status`, 'utf8');
        peakRssKb = Math.max(peakRssKb, Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0));
      } catch {
        // not Linux, or the daemon is gone
      }
    }, 200);
    const deadline = Date.now() + 10 * 60_000;
    while (Date.now() < deadline && !ids.every((id) => world.github.job(id).status === 'completed')) {
      await new Promise((r) => setTimeout(r, 200));
    }
    const seconds = (performance.now() - started) / 1000;
    clearInterval(sample);
    const done = ids.filter((id) => world.github.job(id).status === 'completed').length;
    const requests = world.github.requestCount();
    process.stderr.write(`world: ${done}/${count} jobs in ${seconds.toFixed(1)} s wall = ${((done / seconds) * 60).toFixed(0)} jobs/min; daemon peak RSS ${(peakRssKb / 1024).toFixed(0)} MB; ${requests} GitHub requests\n`);
    return { jobs: count, done, wall_s: Math.round(seconds * 10) / 10, jobs_per_minute: Math.round((done / seconds) * 60), daemon_peak_rss_mb: Math.round(peakRssKb / 1024), github_requests: requests };
  } finally {
    await world.destroy();
  }
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
