// The demand sweep of the GitHub adapter, real Octokit against the fake GitHub: pagination, one
// conditional request per repository per sweep, jobs read only for new or changed runs, which jobs
// are demand, the budgeted schedule (push signal, busy repos, the stale rest) and fail-closed behaviour.
import { harness, type Harness } from './github-helpers.js';
import { RUNS_PER_PAGE } from '../../src/adapters/github-sweep.js';

let h: Harness;
afterEach(async () => {
  await h?.fake.stop();
});

const MAC = ['self-hosted', 'coder'];
const RUNS = 'GET /repos/{owner}/{repo}/actions/runs';
const JOBS = 'GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs';
const DAY = 86_400_000;

/** A harness on a simulated clock shared by the fake and the adapter. */
async function clocked(over: Parameters<typeof harness>[1] = {}, fakeOver: Parameters<typeof harness>[0] = {}) {
  const clock = { t: Date.parse('2026-01-01T00:00:00Z') };
  const now = () => clock.t;
  h = await harness({ now, ...fakeOver }, { now, ...over });
  return clock;
}

test('pagination past 100: repos, jobs of a run and runners', async () => {
  h = await harness();
  h.fake.addRepos(150);
  const first = h.fake.queueJob({ repo: 'repo-0150', labels: MAC, name: 'leg-0' });
  for (let i = 1; i < 130; i++) h.fake.queueJob({ repo: 'repo-0150', labels: MAC, name: `leg-${i}`, runId: first.runId });
  for (let i = 0; i < 120; i++) h.fake.world.createRunner(i % 2 ? `tf-coder-${i}` : `other-${i}`, MAC, 1, `s${i}`);
  const demand = await h.adapter.listJobs();
  expect(demand.stats.repositories).toBe(150);
  expect(demand.stats.unsweptRepositories).toBe(0);
  expect(demand.jobs).toHaveLength(130);
  expect(new Set(demand.jobs.map((j) => j.name)).size).toBe(130);
  // Two pages of the full list, one of the "recently pushed" list.
  expect(h.fake.requestCount('GET /orgs/{org}/repos')).toBe(3);
  expect(h.fake.requestCount(JOBS)).toBe(2);

  const runners = await h.adapter.listRunners();
  expect(runners).toHaveLength(60);
  expect(runners.every((r) => r.name.startsWith('tf-'))).toBe(true);
  expect(h.fake.requestCount('GET /orgs/{org}/actions/runners')).toBe(2);
});

test('one request per repository per sweep: a later sweep is all 304s, costs no rate limit, finds the same jobs', async () => {
  const clock = await clocked();
  h.fake.addRepos(5);
  h.fake.queueJob({ repo: 'repo-0001', labels: MAC });
  h.fake.queueJob({ repo: 'repo-0003', labels: MAC });
  const one = await h.adapter.listJobs();
  expect(one.stats.notModified).toBe(0);
  expect(h.fake.requestCount(RUNS)).toBe(5);
  clock.t += 61_000;
  h.fake.resetCounters();
  const before = h.fake.rateLimit().remaining;
  const two = await h.adapter.listJobs();
  expect(two.jobs).toEqual(one.jobs);
  expect(h.fake.requestCount(RUNS)).toBe(5);
  // The jobs of the two unfinished runs are re-read once a minute (updated_at has whole seconds).
  expect(h.fake.requestCount(JOBS)).toBe(2);
  // 5 run lists, 2 job lists and the recently-pushed page, every one a 304.
  expect(two.stats.requests).toBe(8);
  expect(two.stats.notModified).toBe(8);
  expect(h.fake.rateLimit().remaining).toBe(before);
  expect(two.stats.rateLimitRemaining).toBe(before);
});

test('jobs are read only for runs that are new or changed', async () => {
  const clock = await clocked();
  h.fake.addRepos(['app', 'lib', 'web']);
  const a = h.fake.queueJob({ repo: 'app', labels: MAC, name: 'build' });
  const b = h.fake.queueJob({ repo: 'lib', labels: MAC, name: 'build' });
  await h.adapter.listJobs();
  clock.t += 16_000;
  h.fake.resetCounters();
  // lib's job starts; app's run does not change.
  h.fake.world.setJobStatus(h.fake.world.jobs.get(b.jobId)!, 'in_progress');
  const demand = await h.adapter.listJobs();
  expect(h.fake.requestCount(JOBS)).toBe(1);
  expect(demand.jobs.map((j) => [j.id, j.status]).sort()).toEqual([[a.jobId, 'queued'], [b.jobId, 'in_progress']].sort());
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
  const clock = await clocked();
  h.fake.addRepo('app');
  // A matrix deploy: staging needs no reviewer and is queued, production waits for approval.
  const staging = h.fake.queueJob({ repo: 'app', labels: MAC, name: 'deploy (staging)' });
  const prod = h.fake.queueJob({ repo: 'app', labels: MAC, name: 'deploy (production)', status: 'waiting', runId: staging.runId });
  // GitHub shows the whole run as waiting (audit B1).
  expect(h.fake.world.runStatus(h.fake.world.runs.get(staging.runId)!).status).toBe('waiting');

  const demand = await h.adapter.listJobs();
  expect(demand.jobs.map((j) => [j.id, j.status])).toEqual([[staging.jobId, 'queued']]);

  // Once production is approved too, both are demand on the next poll.
  clock.t += 15_000;
  h.fake.approveJob(prod.jobId);
  const after = await h.adapter.listJobs();
  expect(after.jobs.map((j) => j.id).sort()).toEqual([staging.jobId, prod.jobId].sort());
});

test('a later job of a running run (needs:, matrix) is found on the next poll, and so is one queued in the same second', async () => {
  const clock = await clocked();
  for (let i = 1; i <= 30; i++) h.fake.addRepo(`r${i}`, { pushedAt: clock.t - DAY });
  const build = h.fake.queueJob({ repo: 'r4', labels: MAC, name: 'build', event: 'schedule' });
  await h.adapter.listJobs();
  clock.t += 15_000;
  h.fake.world.setJobStatus(h.fake.world.jobs.get(build.jobId)!, 'in_progress');
  await h.adapter.listJobs();
  // `test` needs `build`: queued within the same second as the run's last change (same updated_at).
  const test2 = h.fake.queueJob({ repo: 'r4', labels: MAC, name: 'test', runId: build.runId });
  const found = async () => (await h.adapter.listJobs()).jobs.some((j) => j.id === test2.jobId);
  let waited = 0;
  while (!(await found())) {
    clock.t += 15_000;
    waited += 15;
    expect(waited).toBeLessThanOrEqual(60); // the once-a-minute re-read of an unfinished run's jobs
  }
});

test('a tracked run that newer runs pushed off the first page is still followed', async () => {
  const clock = await clocked();
  h.fake.addRepo('app');
  const old = h.fake.queueJob({ repo: 'app', labels: MAC, name: 'long queued' });
  await h.adapter.listJobs();
  for (let i = 0; i < RUNS_PER_PAGE + 5; i++) {
    const { jobId } = h.fake.queueJob({ repo: 'app', labels: ['ubuntu-latest'], name: `quick-${i}`, event: 'pull_request' });
    h.fake.completeJob(jobId);
  }
  clock.t += 15_000;
  const demand = await h.adapter.listJobs();
  expect(demand.jobs.map((j) => j.id)).toEqual([old.jobId]);
  h.fake.completeJob(old.jobId);
  clock.t += 15_000;
  expect((await h.adapter.listJobs()).jobs).toEqual([]);
});

test('an old run re-run in place (far below the first page) is found by the hourly deep check', async () => {
  const clock = await clocked();
  h.fake.addRepo('app', { pushedAt: clock.t - DAY });
  const old = h.fake.queueJob({ repo: 'app', labels: MAC, name: 'flaky', event: 'schedule' });
  h.fake.completeJob(old.jobId, 'failed');
  for (let i = 0; i < RUNS_PER_PAGE + 5; i++) {
    const { jobId } = h.fake.queueJob({ repo: 'app', labels: ['ubuntu-latest'], name: `later-${i}`, event: 'schedule' });
    h.fake.completeJob(jobId);
  }
  await h.adapter.listJobs();
  // "Re-run failed jobs": the old run's job is queued again; the run keeps its place in the list.
  h.fake.world.setJobStatus(h.fake.world.jobs.get(old.jobId)!, 'queued');
  let minutes = 0;
  while (!(await h.adapter.listJobs()).jobs.some((j) => j.id === old.jobId)) {
    clock.t += 60_000;
    minutes++;
    expect(minutes).toBeLessThanOrEqual(61);
  }
  expect(minutes).toBeGreaterThan(0); // not on the first page: only the deep check finds it
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

test("the re-check before a claim asks the run's jobs list conditionally: a 304, no primary rate limit", async () => {
  const clock = await clocked();
  h.fake.addRepo('app');
  const { jobId, runId } = h.fake.queueJob({ repo: 'app', labels: MAC });
  await h.adapter.listJobs();
  clock.t += 1000;
  h.fake.resetCounters();
  const before = h.fake.rateLimit().remaining;
  const job = await h.adapter.getJob('acme/app', jobId, runId);
  expect(job).toMatchObject({ id: jobId, status: 'queued' });
  expect(h.fake.requestCount()).toBe(1);
  expect(h.fake.notModifiedCount).toBe(1);
  expect(h.fake.rateLimit().remaining).toBe(before);
  // Once it started, the re-check says so.
  h.fake.world.setJobStatus(h.fake.world.jobs.get(jobId)!, 'in_progress');
  expect((await h.adapter.getJob('acme/app', jobId, runId)).status).toBe('in_progress');
});

test('the budget: never more than max_requests_per_minute in any minute; every repo swept in about repos / budget minutes', async () => {
  // 400 repos at 120 a minute: the shape of 1,000 at 300 (npm run bench measures that), a third of the requests.
  const clock = await clocked({ maxRequestsPerMinute: 120 }, { rateLimit: { limit: 1_000_000 } });
  h.fake.addRepos(400);
  for (const r of h.fake.world.repos.values()) r.pushedAt = clock.t - DAY;
  const perCall: number[] = [];
  let first: number | undefined;
  for (let call = 0; call < 24; call++) {
    const d = await h.adapter.listJobs();
    perCall.push(d.stats.requests);
    if (first === undefined && d.stats.unsweptRepositories === 0) first = call;
    clock.t += 15_000;
  }
  // Any 4 consecutive calls (60 s) stay within the budget: the stale repos get it less a reserve of
  // 6 for runners and claims, which only the push signal (one request a call) dips into.
  for (let i = 0; i + 4 <= perCall.length; i++) expect(perCall.slice(i, i + 4).reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(120 - 6 + 4);
  // A full round: 400 repos at 114 a minute is ~3.7 minutes of 15 s calls (cold: the full repo list too).
  expect(first).toBeDefined();
  expect(first!).toBeLessThanOrEqual(17);
  // The steady state reports the real staleness, under 250 s.
  const last = await h.adapter.listJobs();
  expect(last.stats.coldestRepoAgeSeconds).toBeLessThanOrEqual(250);
  expect(h.adapter.requestBudget().lastMinute).toBeLessThanOrEqual(120);
}, 120_000);

test('a push is seen on the next sweep, even while the budget goes to quiet repos; a job without a push waits its turn', async () => {
  const clock = await clocked({ maxRequestsPerMinute: 60 }, { rateLimit: { limit: 1_000_000 } });
  for (let i = 1; i <= 200; i++) h.fake.addRepo(`r${i}`, { pushedAt: clock.t - DAY });
  // Sweep until every repo was seen once (a cold start spends the budget over several calls).
  for (let i = 0; i < 100 && (await h.adapter.listJobs()).stats.unsweptRepositories > 0; i++) clock.t += 15_000;
  clock.t += 15_000;

  /** Sweeps every 15 s until the job shows up; the simulated delay in seconds. */
  const discoveryDelay = async (repo: string, event: string): Promise<number> => {
    const queuedAt = clock.t;
    const { jobId } = h.fake.queueJob({ repo, labels: MAC, event });
    for (let tick = 0; tick < 100; tick++) {
      const demand = await h.adapter.listJobs();
      if (demand.jobs.some((j) => j.id === jobId)) return (clock.t - queuedAt) / 1000;
      clock.t += 15_000;
    }
    throw new Error('never found');
  };
  expect(await discoveryDelay('r150', 'push')).toBe(0);
  clock.t += 15_000;
  // An @claude comment moves no pushed_at: found by the quiet round, 200 repos at ~54 a minute.
  const comment = await discoveryDelay('r77', 'issue_comment');
  expect(comment).toBeGreaterThan(0);
  expect(comment).toBeLessThanOrEqual(300);
}, 120_000);

test('a push in the same second as its repository\'s last sweep is seen on the next sweep (pushed_at has whole seconds)', async () => {
  const clock = await clocked();
  for (let i = 1; i <= 3; i++) h.fake.addRepo(`r${i}`, { pushedAt: clock.t - DAY });
  // A sweep of every repo at 00:00:00.300, then a push at 00.700: GitHub shows `pushed_at` …:00Z
  // (whole seconds; the fake's repoJson drops the milliseconds the same way).
  clock.t += 300;
  expect((await h.adapter.listJobs()).stats.unsweptRepositories).toBe(0);
  clock.t += 400;
  const { jobId } = h.fake.queueJob({ repo: 'r2', labels: MAC, event: 'push' });
  clock.t += 14_600;
  const next = await h.adapter.listJobs();
  expect(next.jobs.map((j) => j.id)).toEqual([jobId]);
});

test('without an event feed, a small org has every repository read every tick: a comment-triggered job is seen on the next one', async () => {
  const clock = await clocked();
  for (let i = 1; i <= 6; i++) h.fake.addRepo(`r${i}`, { pushedAt: clock.t - DAY });
  await h.adapter.listJobs();
  clock.t += 15_000;
  await h.adapter.listJobs();
  clock.t += 5_000;
  // An @claude comment (no push): nothing on the pushed list moves.
  const { jobId } = h.fake.queueJob({ repo: 'r3', labels: MAC, event: 'issue_comment' });
  clock.t += 10_000;
  expect((await h.adapter.listJobs()).jobs.map((j) => j.id)).toEqual([jobId]);
});

test('without an event feed, an old run re-run in place is found within a round (a minute here), not an hour', async () => {
  const clock = await clocked();
  h.fake.addRepo('app', { pushedAt: clock.t - DAY });
  const old = h.fake.queueJob({ repo: 'app', labels: MAC, name: 'flaky', event: 'pull_request' });
  h.fake.completeJob(old.jobId, 'failed');
  for (let i = 0; i < RUNS_PER_PAGE + 5; i++) {
    const { jobId } = h.fake.queueJob({ repo: 'app', labels: ['ubuntu-latest'], name: `later-${i}`, event: 'schedule' });
    h.fake.completeJob(jobId);
  }
  for (let i = 0; i < 3; i++) {
    await h.adapter.listJobs();
    clock.t += 15_000;
  }
  h.fake.rerunJob(old.jobId);
  let waited = 0;
  while (!(await h.adapter.listJobs()).jobs.some((j) => j.id === old.jobId)) {
    clock.t += 15_000;
    waited += 15;
    expect(waited).toBeLessThanOrEqual(60);
  }
});

test('until every repository was swept once, the sweep says so (a missing job proves nothing yet)', async () => {
  const clock = await clocked({ maxRequestsPerMinute: 40 });
  h.fake.addRepos(100);
  const one = await h.adapter.listJobs();
  expect(one.stats.unsweptRepositories).toBeGreaterThan(0);
  expect(one.stats.sweptRepositories).toBeLessThan(100);
  let calls = 1;
  let d = one;
  while (d.stats.unsweptRepositories > 0) {
    clock.t += 15_000;
    d = await h.adapter.listJobs();
    expect(++calls).toBeLessThan(60);
  }
  expect(d.stats.repositories).toBe(100);
}, 120_000);

test('during a cold start, a push is seen on the next sweep, not in its alphabetical turn', async () => {
  const clock = await clocked({ maxRequestsPerMinute: 60 });
  for (let i = 1; i <= 300; i++) h.fake.addRepo(`r${String(i).padStart(3, '0')}`, { pushedAt: clock.t - DAY });
  const first = await h.adapter.listJobs();
  expect(first.stats.unsweptRepositories).toBeGreaterThan(200);
  clock.t += 15_000;
  const { jobId } = h.fake.queueJob({ repo: 'r299', labels: MAC });
  const next = await h.adapter.listJobs();
  expect(next.stats.unsweptRepositories).toBeGreaterThan(0);
  expect(next.jobs.map((j) => j.id)).toEqual([jobId]);
}, 60_000);

test('a repo whose runs all fit on the first page gets no hourly deep check', async () => {
  const clock = await clocked();
  h.fake.addRepo('small', { pushedAt: clock.t - DAY });
  const { jobId } = h.fake.queueJob({ repo: 'small', labels: MAC, event: 'schedule' });
  h.fake.completeJob(jobId);
  for (let minute = 0; minute < 70; minute += 5) {
    await h.adapter.listJobs();
    clock.t += 5 * 60_000;
  }
  expect(h.fake.requestCount(RUNS)).toBe(14); // the first page every round, nothing else
});

test('low primary budget slows the quiet sweep down', async () => {
  const clock = await clocked({}, { rateLimit: { limit: 5000, remaining: 300 } });
  for (let i = 1; i <= 10; i++) h.fake.addRepo(`r${i}`, { pushedAt: clock.t - DAY });
  await h.adapter.listJobs();
  clock.t += 61_000;
  h.fake.resetCounters();
  const second = await h.adapter.listJobs();
  expect(h.fake.requestCount(RUNS)).toBeLessThan(10);
  clock.t += 61_000;
  h.fake.setRateLimit({ remaining: 5000 });
  await h.adapter.listJobs(); // learns the budget is back
  clock.t += 61_000;
  h.fake.resetCounters();
  await h.adapter.listJobs();
  expect(h.fake.requestCount(RUNS)).toBe(10);
  expect(second.stats.coldestRepoAgeSeconds).toBe(61);
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
  const clock = await clocked();
  h.fake.addRepos(3);
  h.fake.queueJob({ repo: 'repo-0001', labels: MAC });
  await h.adapter.listJobs();
  clock.t += 61_000;
  h.fake.setOutage(true);
  await expect(h.adapter.listJobs()).rejects.toMatchObject({ status: 502 });
  await expect(h.adapter.listRunners()).rejects.toMatchObject({ status: 502 });
  h.fake.setOutage(false);
  const back = await h.adapter.listJobs();
  expect(back.jobs).toHaveLength(1);
  expect(h.entries.some((e) => e.msg === 'github demand sweep failed')).toBe(true);
});
