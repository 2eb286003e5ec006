/**
 * Benchmark of the demand sweep: an org of 1,000 repositories in the fake GitHub (a few dozen with
 * queued jobs, the rest last pushed a day ago), three consecutive `listJobs` sweeps with the real
 * adapter, and per sweep the requests sent, how many came back 304, and the wall time.
 *
 * ## Gotchas
 * - The first sweep reads everything (1 request per repo, plus the jobs of unfinished runs); later
 *   sweeps, 15 simulated seconds apart, poll only the repos with unfinished runs, and get 304s (no
 *   primary budget). `npm run bench`'s org_scale section measures the whole daemon over time.
 * - Runs in-process against 127.0.0.1: wall times measure our overhead, not GitHub's latency.
 */
import { GitHubAdapter } from '../adapters/github.js';
import { memoryLogger } from '../core/logger.js';
import { Secrets } from '../secrets/redact.js';
import { FakeGitHub } from '../sim/github/server.js';

export interface GithubSweepBenchResult {
  repositories: number;
  activeRepositories: number;
  queuedJobs: number;
  sweeps: Array<{ requests: number; notModified: number; wallMs: number; jobs: number; rateLimitRemaining: number | null }>;
  /** Convenience copies of the per-sweep numbers. */
  requestsPerSweep: number[];
  notModifiedPerSweep: number[];
  wallMsPerSweep: number[];
}

export async function benchGithubSweep(opts: { repos?: number; activeRepos?: number; sweeps?: number } = {}): Promise<GithubSweepBenchResult> {
  const repoCount = opts.repos ?? 1000;
  const active = opts.activeRepos ?? 36;
  const sweepCount = opts.sweeps ?? 3;
  const token = 'ghp_benchtoken0123456789abcdefghijklmno';
  // A simulated clock, 15 s (the default poll) between sweeps, shared by the fake and the adapter.
  let t = Date.now();
  const now = () => t;
  const fake = new FakeGitHub({ org: 'bench', tokens: [token], rateLimit: { limit: 15000 }, now });
  const url = await fake.start();
  try {
    const dayAgo = t - 86_400_000;
    const names = Array.from({ length: repoCount }, (_, i) => `repo-${String(i + 1).padStart(4, '0')}`);
    for (const n of names) fake.addRepo(n, { pushedAt: dayAgo });
    let queued = 0;
    const step = Math.max(1, Math.floor(repoCount / Math.max(1, active)));
    for (let i = 0; i < active && i * step < repoCount; i++) {
      const repo = names[i * step]!;
      const first = fake.queueJob({ repo, labels: ['self-hosted', 'coder'], name: 'build' });
      fake.queueJob({ repo, labels: ['self-hosted', 'developer'], name: 'test', runId: first.runId });
      queued += 2;
    }
    const adapter = new GitHubAdapter({
      apiUrl: url,
      org: 'bench',
      auth: { kind: 'token', token },
      repositories: [],
      logger: memoryLogger(),
      secrets: new Secrets(),
      now,
      throttle: { id: `bench-${process.pid}-${Date.now()}` },
    });
    const sweeps: GithubSweepBenchResult['sweeps'] = [];
    for (let i = 0; i < sweepCount; i++) {
      const t0 = performance.now();
      const demand = await adapter.listJobs();
      const wallMs = Math.round(performance.now() - t0);
      sweeps.push({
        requests: demand.stats.requests,
        notModified: demand.stats.notModified,
        wallMs,
        jobs: demand.jobs.length,
        rateLimitRemaining: demand.stats.rateLimitRemaining,
      });
      t += 15_000;
    }
    return {
      repositories: repoCount,
      activeRepositories: Math.min(active, repoCount),
      queuedJobs: queued,
      sweeps,
      requestsPerSweep: sweeps.map((s) => s.requests),
      notModifiedPerSweep: sweeps.map((s) => s.notModified),
      wallMsPerSweep: sweeps.map((s) => s.wallMs),
    };
  } finally {
    await fake.stop();
  }
}
