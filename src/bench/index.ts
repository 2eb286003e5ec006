/**
 * `npm run bench`: the figures docs/benchmarks.md quotes, measured, never asserted by a timed test.
 *
 * 1. GitHub API cost of discovery for an org of 1,000 repositories (requests and 304s per sweep).
 * 2. Planner cost: plan() over a large observed world (thousands of queued jobs and runners).
 * 3. The simulated world end to end: jobs per minute of wall time through real daemons, one per
 *    simulated Mac on one org, and each daemon's resident memory (VmRSS, sampled from /proc).
 * 4. `org_scale`: tart-fleet's real daemon against a naive baseline poller (per-repo runs lists
 *    every 15 s, no ETags) on the same simulated org and job schedule, for 100 and 1,000
 *    repositories (org-scale.ts says what each figure is and what bounds it).
 *
 * Prints one JSON object on stdout and a readable table on stderr. Options:
 * - `--only a,b`: run only these sections (`github_sweep`, `planner`, `world`, `org_scale`; default all);
 * - `--jobs N` (default 120) and `--macs N` (default 1) for the world run;
 * - `--org-repos a,b` (default `100,1000`) and `--org-minutes M` (the window of every org size;
 *   default 5 minutes at 100 repositories, 10 at 1,000: quiet repos must be swept a few times at
 *   the ~200 s a sweep of 1,000 takes at 300 requests a minute, so keep ≥ 8 minutes there);
 *   `--org-seed N` (default 1) picks another job schedule; `--org-jobs-per-minute R` (default
 *   2.5; 0 = a quiet org: what watching costs, without any job's tart commands); `--org-cpu-prof
 *   DIR` writes the daemon's V8 CPU profile there (open it in Chrome DevTools) to see where a
 *   tick's time goes.
 * The default run takes about 20–25 minutes, most of it the two org windows.
 * - `--org-feed`: the daemon gets the event feed (an org webhook's delivery log, docs/event-feed.md).
 *
 * Example, just the org comparison at 100 repositories with a 3-minute window:
 * `npm run build && node dist/bench/index.js --only org_scale --org-repos 100 --org-minutes 3`.
 *
 * ## Gotchas
 * - One daemon claims at most ~60 jobs a minute (GitHub's 1 s between mutating requests).
 * - Every simulated tart command is a Node process (~190 ms of CPU on the 2-core development
 *   machine, against milliseconds for the real Swift binary), so several simulated Macs on a small
 *   machine are bound by CPU, not by tart-fleet: `--macs` pays off on bigger machines.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { validateConfig } from '../config/load.js';
import { plan } from '../core/plan.js';
import type { Job, Runner } from '../core/ports.js';
import type { Observed } from '../core/model.js';
import { memoryLogger } from '../core/logger.js';
import { HostMemory, VolatileStore } from '../daemon/host-memory.js';
import { benchGithubSweep } from './github-sweep.js';
import { SimWorld } from '../sim/world.js';
import { benchOrgScale, formatOrgScale } from './org-scale.js';

const SECTIONS = ['github_sweep', 'planner', 'world', 'org_scale'] as const;

async function main(): Promise<void> {
  const worldJobs = numberOption('--jobs', 120);
  const macs = numberOption('--macs', 1);
  const only = sectionsOption();
  const orgRepos = listOption('--org-repos', [100, 1000]);
  const orgMinutes = minutesOption('--org-minutes');
  const orgSeed = numberOption('--org-seed', 1);
  const orgJobsPerMinute = rateOption('--org-jobs-per-minute');
  const cpuProfAt = process.argv.indexOf('--org-cpu-prof');
  const cpuProfDir = cpuProfAt < 0 ? undefined : process.argv[cpuProfAt + 1];
  const results: Record<string, unknown> = {};

  if (only.has('github_sweep')) results.github_sweep = await benchGithubSweep();
  if (only.has('planner')) results.planner = benchPlanner();
  if (only.has('world')) results.world = await benchWorld(worldJobs, macs);
  if (only.has('org_scale')) {
    const runs = [];
    for (const repos of orgRepos) {
      const windowS = Math.round((orgMinutes ?? (repos >= 1000 ? 10 : 5)) * 60);
      const result = await benchOrgScale({
        repos,
        windowS,
        seed: orgSeed,
        ...(orgJobsPerMinute !== undefined ? { jobsPerMinute: orgJobsPerMinute } : {}),
        ...(cpuProfDir ? { cpuProfDir } : {}),
        ...(process.argv.includes('--org-feed') ? { feed: true } : {}),
      });
      process.stderr.write(formatOrgScale(result));
      runs.push(result);
    }
    results.org_scale = runs;
  }

  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
}

function sectionsOption(): Set<string> {
  const at = process.argv.indexOf('--only');
  if (at < 0) return new Set(SECTIONS);
  const names = (process.argv[at + 1] ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
  const unknown = names.filter((n) => !(SECTIONS as readonly string[]).includes(n));
  if (names.length === 0 || unknown.length > 0) throw new Error(`--only wants sections among ${SECTIONS.join(', ')}, got ${process.argv[at + 1] ?? 'nothing'}`);
  return new Set(names);
}

function listOption(name: string, fallback: number[]): number[] {
  const at = process.argv.indexOf(name);
  if (at < 0) return fallback;
  const values = (process.argv[at + 1] ?? '').split(',').map(Number);
  if (values.length === 0 || !values.every((v) => Number.isInteger(v) && v >= 1)) throw new Error(`${name} wants whole numbers above 0, comma-separated, got ${process.argv[at + 1] ?? 'nothing'}`);
  return values;
}

function minutesOption(name: string): number | undefined {
  const at = process.argv.indexOf(name);
  if (at < 0) return undefined;
  const value = Number(process.argv[at + 1]);
  if (!Number.isFinite(value) || value < 1) throw new Error(`${name} wants minutes (at least 1), got ${process.argv[at + 1] ?? 'nothing'}`);
  return value;
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
    tart: { ok: true, value: { ours: [], foreign: [] } },
    github: { ok: true, value: { jobs, runners, stats: { requests: 0, notModified: 0, rateLimitRemaining: null, rateLimitReset: null, coldestRepoAgeSeconds: 0, repositories: 1000, unsweptRepositories: 0, sweptRepositories: 1000 } } },
  };
  const memory = new HostMemory(now, new VolatileStore(), memoryLogger()).snapshot();
  plan(observed, memory, config); // warm-up
  const rounds = 5;
  const start = performance.now();
  for (let i = 0; i < rounds; i++) plan(observed, memory, config);
  const ms = (performance.now() - start) / rounds;
  process.stderr.write(`planner: ${ms.toFixed(1)} ms per plan() over 5,000 jobs and 500 runners\n`);
  return { jobs: jobs.length, runners: runners.length, ms_per_plan: Math.round(ms * 10) / 10 };
}

async function benchWorld(count: number, macs: number): Promise<Record<string, number>> {
  // Big simulated Macs so the scheduler, not the RAM ceiling, is what is measured: Linux-guest
  // profile (no macOS cap), 1 s polls, simulated 30 s jobs and 20 s boots at x100. Several Macs
  // share one fake org, each with its own daemon and TART_HOME, as a real fleet would: one daemon
  // claims at most ~60 jobs a minute because GitHub asks for 1 s between mutating requests
  // (plugin-throttling's write limiter), so fleet throughput grows with Macs, not with one daemon.
  const first = await SimWorld.create({ ...BENCH_MAC, runnerName: 'bench-mac-1' });
  const worlds = [first];
  try {
    for (let i = 2; i <= macs; i++) {
      worlds.push(await SimWorld.create({ ...BENCH_MAC, runnerName: `bench-mac-${i}`, github: { server: first.github, apiUrl: first.apiUrl, token: first.token } }));
    }
    const ids = Array.from({ length: count }, () => first.queue('worker', { durationS: 30 }));
    const started = performance.now();
    const daemons = worlds.map((w) => w.startDaemon());
    const peakRssKb = daemons.map(() => 0);
    const sample = setInterval(() => {
      daemons.forEach((daemon, i) => {
        try {
          const status = readFileSync(`/proc/${daemon.pid}/status`, 'utf8');
          peakRssKb[i] = Math.max(peakRssKb[i] ?? 0, Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0));
        } catch {
          // not Linux, or the daemon is gone
        }
      });
    }, 200);
    const deadline = Date.now() + 10 * 60_000;
    while (Date.now() < deadline && !ids.every((id) => first.github.job(id).status === 'completed')) {
      await new Promise((r) => setTimeout(r, 200));
    }
    const seconds = (performance.now() - started) / 1000;
    clearInterval(sample);
    const done = ids.filter((id) => first.github.job(id).status === 'completed').length;
    const requests = first.github.requestCount();
    const perMac = worlds.map((w) => w.tartEvents().filter((e) => e.event === 'clone').length);
    const maxRssMb = Math.round(Math.max(...peakRssKb) / 1024);
    process.stderr.write(
      `world: ${done}/${count} jobs on ${macs} simulated Mac(s) in ${seconds.toFixed(1)} s wall = ${((done / seconds) * 60).toFixed(0)} jobs/min ` +
        `(VMs per Mac: ${perMac.join(', ')}); largest daemon peak RSS ${maxRssMb} MB; ${requests} GitHub requests\n`,
    );
    return {
      jobs: count,
      macs,
      done,
      wall_s: Math.round(seconds * 10) / 10,
      jobs_per_minute: Math.round((done / seconds) * 60),
      jobs_per_minute_per_mac: Math.round((done / seconds / macs) * 60),
      daemon_peak_rss_mb: maxRssMb,
      github_requests: requests,
    };
  } finally {
    // The first world owns the fake GitHub: destroy it last.
    for (const w of worlds.reverse()) await w.destroy();
  }
}

const BENCH_MAC = {
  ramGb: 1024,
  speed: 100,
  // The VZ limit binds macOS guests; these stand for Linux guests, so lift the fake's limit.
  simEnv: { TART_SIM_MAX_RUNNING: '1000' },
  config: { host: { max_vms: 2 }, profiles: { worker: { ram_mb: 2048, cpu: 2, timeout_minutes: 60, os: 'linux', image: 'workhorse-linux' } } },
};

function numberOption(name: string, fallback: number): number {
  const at = process.argv.indexOf(name);
  if (at < 0) return fallback;
  const value = Number(process.argv[at + 1]);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} wants a whole number above 0, got ${process.argv[at + 1] ?? 'nothing'}`);
  return value;
}

/** A rate ≥ 0 (fractions allowed), or undefined when the option is absent. */
function rateOption(name: string): number | undefined {
  const at = process.argv.indexOf(name);
  if (at < 0) return undefined;
  const value = Number(process.argv[at + 1]);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} wants a number of jobs a minute (0 or more), got ${process.argv[at + 1] ?? 'nothing'}`);
  return value;
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
