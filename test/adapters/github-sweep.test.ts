// The demand sweep of the GitHub adapter, real Octokit against the fake GitHub: pagination, ETag
// reuse, which jobs are demand, the quiet-repo schedule and fail-closed behaviour.
import { harness, type Harness } from './github-helpers.js';

let h: Harness;
afterEach(async () => {
  await h?.fake.stop();
});

const MAC = ['self-hosted', 'coder'];

test('pagination past 100: repos, jobs of a run and runners', async () => {
  h = await harness();
  h.fake.addRepos(150);
  const first = h.fake.queueJob({ repo: 'repo-0150', labels: MAC, name: 'leg-0' });
  for (let i = 1; i < 130; i++) h.fake.queueJob({ repo: 'repo-0150', labels: MAC, name: `leg-${i}`, runId: first.runId });
  for (let i = 0; i < 120; i++) h.fake.world.createRunner(i % 2 ? `tf-coder-${i}` : `other-${i}`, MAC, 1, `s${i}`);
  const demand = await h.adapter.listJobs();
  expect(demand.stats.repositories).toBe(150);
  expect(demand.jobs).toHaveLength(130);
  expect(new Set(demand.jobs.map((j) => j.name)).size).toBe(130);
  expect(h.fake.requestCount('GET /orgs/{org}/repos')).toBe(2);
  expect(h.fake.requestCount('GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs')).toBe(2);

  const runners = await h.adapter.listRunners();
  expect(runners).toHaveLength(60);
  expect(runners.every((r) => r.name.startsWith('tf-'))).toBe(true);
  expect(h.fake.requestCount('GET /orgs/{org}/actions/runners')).toBe(2);
});

test('a second sweep makes the same requests, all 304, and costs no rate limit', async () => {
  h = await harness({}, { quietRepoSweepSeconds: 0 });
  h.fake.addRepos(5);
  h.fake.queueJob({ repo: 'repo-0001', labels: MAC });
  h.fake.queueJob({ repo: 'repo-0003', labels: MAC });
  const one = await h.adapter.listJobs();
  const before = h.fake.rateLimit().remaining;
  const two = await h.adapter.listJobs();
  expect(two.jobs).toEqual(one.jobs);
  expect(two.stats.requests).toBe(one.stats.requests);
  expect(two.stats.notModified).toBe(two.stats.requests);
  expect(one.stats.notModified).toBe(0);
  expect(h.fake.rateLimit().remaining).toBe(before);
  expect(two.stats.rateLimitRemaining).toBe(before);
});

test('demand: queued and in-progress jobs; waiting, cancelled and completed jobs are not', async () => {
  h = await harness();
  h.fake.addRepos(['app', 'lib', 'web']);
  const waiting = h.fake.queueJob({ repo: 'app', labels: MAC, name: 'deploy', status: 'waiting' });
  // A run whose first job runs while the second is queued is `in_progress` and still holds demand.
  const build = h.fake.queueJob({ repo: 'lib', labels: MAC, name: 'build' });
  const test2 = h.fake.queueJob({ repo: 'lib', labels: MAC, name: 'test', runId: build.runId });
  h.fake.world.jobs.get(build.jobId)!.status = 'in_progress';
  h.fake.world.jobs.get(build.jobId)!.runnerName = 'tf-coder-1';
  const cancelled = h.fake.queueJob({ repo: 'web', labels: MAC, name: 'lint' });
  h.fake.cancelRun(cancelled.runId);
  const done = h.fake.queueJob({ repo: 'web', labels: MAC, name: 'old' });
  h.fake.completeJob(done.jobId);

  const demand = await h.adapter.listJobs();
  const byId = new Map(demand.jobs.map((j) => [j.id, j]));
  expect([...byId.keys()].sort()).toEqual([build.jobId, test2.jobId].sort());
  expect(byId.get(build.jobId)).toMatchObject({ status: 'in_progress', runnerName: 'tf-coder-1', repo: 'acme/lib' });
  expect(byId.get(test2.jobId)).toMatchObject({ status: 'queued', runnerName: null, labels: MAC, runId: build.runId });
  expect(byId.has(waiting.jobId)).toBe(false);
  expect(byId.has(cancelled.jobId)).toBe(false);
  expect(h.fake.job(cancelled.jobId)).toMatchObject({ status: 'completed', conclusion: 'cancelled' });
});

test('a run held `waiting` by one job still yields its queued jobs; the waiting job is not demand', async () => {
  h = await harness();
  h.fake.addRepo('app');
  // A matrix deploy: staging needs no reviewer and is queued, production waits for approval.
  const staging = h.fake.queueJob({ repo: 'app', labels: MAC, name: 'deploy (staging)' });
  const prod = h.fake.queueJob({ repo: 'app', labels: MAC, name: 'deploy (production)', status: 'waiting', runId: staging.runId });
  // GitHub shows the whole run as waiting (audit B1).
  expect(h.fake.world.runStatus(h.fake.world.runs.get(staging.runId)!).status).toBe('waiting');

  const demand = await h.adapter.listJobs();
  expect(demand.jobs.map((j) => [j.id, j.status])).toEqual([[staging.jobId, 'queued']]);
  expect(demand.jobs.some((j) => j.id === prod.jobId)).toBe(false);

  // Once production is approved too, both are demand.
  h.fake.approveJob(prod.jobId);
  const after = await h.adapter.listJobs();
  expect(after.jobs.map((j) => j.id).sort()).toEqual([staging.jobId, prod.jobId].sort());
});

test('job createdAt comes from the fake clock', async () => {
  let t = Date.parse('2026-01-01T00:00:00Z');
  h = await harness({ now: () => t });
  h.fake.addRepo('app');
  const { jobId } = h.fake.queueJob({ repo: 'app', labels: MAC });
  t += 5000;
  const job = await h.adapter.getJob('acme/app', jobId);
  expect(job.createdAt).toBe(Date.parse('2026-01-01T00:00:00Z'));
  expect(job.status).toBe('queued');
});

test('quiet repos are swept on a bounded schedule, active ones every call', async () => {
  let t = Date.parse('2026-01-01T00:00:00Z');
  const now = () => t;
  h = await harness({ now }, { now, quietRepoSweepSeconds: 60 });
  // 20 repos last pushed a day ago, one with a queued job.
  for (let i = 1; i <= 20; i++) h.fake.addRepo(`r${i}`, { pushedAt: t - 86_400_000 });
  t += 1000;
  h.fake.queueJob({ repo: 'r7', labels: MAC, createdAt: t - 86_400_000 });
  h.fake.world.repos.get('acme/r7')!.pushedAt = t - 86_400_000;

  const first = await h.adapter.listJobs();
  expect(first.jobs).toHaveLength(1);
  // Three run lists per repo: queued, in_progress and waiting.
  expect(h.fake.requestCount('GET /repos/{owner}/{repo}/actions/runs')).toBe(60);

  t += 5000;
  h.fake.resetCounters();
  const second = await h.adapter.listJobs();
  // Only r7 (active: a queued run seen) is polled; plus one "recently pushed" repo page.
  expect(h.fake.requestCount('GET /repos/{owner}/{repo}/actions/runs')).toBe(3);
  expect(h.fake.requestCount('GET /orgs/{org}/repos')).toBe(1);
  expect(second.stats.coldestRepoAgeSeconds).toBe(5);
  expect(second.jobs).toHaveLength(1);

  // A push to a quiet repo makes it active on the next call.
  t += 1000;
  h.fake.queueJob({ repo: 'r3', labels: MAC });
  const third = await h.adapter.listJobs();
  expect(third.jobs.map((j) => j.repo).sort()).toEqual(['acme/r3', 'acme/r7']);

  // Past the quiet interval every repo has been swept again.
  t += 61_000;
  h.fake.resetCounters();
  const fourth = await h.adapter.listJobs();
  expect(h.fake.requestCount('GET /repos/{owner}/{repo}/actions/runs')).toBe(60);
  expect(fourth.stats.coldestRepoAgeSeconds).toBe(0);
});

test('a job from a non-push event (comment, dispatch, schedule) moves no pushed_at: found by the quiet sweep, not at once', async () => {
  let t = Date.parse('2026-01-01T00:00:00Z');
  const now = () => t;
  h = await harness({ now }, { now, quietRepoSweepSeconds: 60 });
  for (let i = 1; i <= 10; i++) h.fake.addRepo(`r${i}`, { pushedAt: t - 86_400_000 });
  await h.adapter.listJobs(); // every repo swept once; all quiet

  /** Sweeps every 15 s (the default poll) until the job shows up; the simulated delay in seconds. */
  const discoveryDelay = async (repo: string, event: string): Promise<number> => {
    const queuedAt = t;
    const { jobId } = h.fake.queueJob({ repo, labels: MAC, event });
    for (let tick = 0; tick < 40; tick++) {
      const demand = await h.adapter.listJobs();
      if (demand.jobs.some((j) => j.id === jobId)) return (t - queuedAt) / 1000;
      t += 15_000;
    }
    throw new Error('never found');
  };

  t += 1000;
  // A push is seen on the very next sweep (the "recently pushed" page).
  expect(await discoveryDelay('r2', 'push')).toBe(0);
  // An @claude comment is not: it waits for r5's quiet sweep, at most the quiet interval (audit L2).
  t += 1000;
  const comment = await discoveryDelay('r5', 'issue_comment');
  expect(comment).toBeGreaterThan(0);
  expect(comment).toBeLessThanOrEqual(60);
});

test('low primary budget slows the quiet sweep down', async () => {
  let t = Date.parse('2026-01-01T00:00:00Z');
  const now = () => t;
  h = await harness({ now, rateLimit: { limit: 5000, remaining: 300 } }, { now, quietRepoSweepSeconds: 60 });
  for (let i = 1; i <= 10; i++) h.fake.addRepo(`r${i}`, { pushedAt: t - 86_400_000 });
  await h.adapter.listJobs();
  t += 61_000;
  h.fake.resetCounters();
  const second = await h.adapter.listJobs();
  expect(h.fake.requestCount('GET /repos/{owner}/{repo}/actions/runs')).toBe(0);
  expect(second.stats.coldestRepoAgeSeconds).toBe(61);
  t += 200_000;
  h.fake.resetCounters();
  await h.adapter.listJobs();
  expect(h.fake.requestCount('GET /repos/{owner}/{repo}/actions/runs')).toBe(30);
});

test('allow-list: only those repos, no repo listing', async () => {
  h = await harness({}, { repositories: ['app', 'acme/lib'] });
  h.fake.addRepos(['app', 'lib', 'other']);
  h.fake.queueJob({ repo: 'app', labels: MAC });
  h.fake.queueJob({ repo: 'other', labels: MAC });
  const demand = await h.adapter.listJobs();
  expect(demand.jobs.map((j) => j.repo)).toEqual(['acme/app']);
  expect(demand.stats.repositories).toBe(2);
  expect(h.fake.requestCount('GET /orgs/{org}/repos')).toBe(0);
});

test('fail closed: an outage makes listJobs throw, never an empty list', async () => {
  h = await harness();
  h.fake.addRepos(3);
  h.fake.queueJob({ repo: 'repo-0001', labels: MAC });
  await h.adapter.listJobs();
  h.fake.setOutage(true);
  await expect(h.adapter.listJobs()).rejects.toMatchObject({ status: 502 });
  await expect(h.adapter.listRunners()).rejects.toMatchObject({ status: 502 });
  h.fake.setOutage(false);
  const back = await h.adapter.listJobs();
  expect(back.jobs).toHaveLength(1);
  expect(h.entries.some((e) => e.msg === 'github demand sweep failed')).toBe(true);
});
