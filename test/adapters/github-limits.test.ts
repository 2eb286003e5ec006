// Rate limits and server errors: a primary limit (403/429, remaining 0) or a secondary one fails the
// call (never "no jobs") and backs the whole adapter off until the reset or retry-after; a 5xx is
// retried; an outage fails the call.
import { createServer, type Socket } from 'node:net';
import { harness, TOKEN, type Harness } from './github-helpers.js';
import { GitHubAdapter } from '../../src/adapters/github.js';
import { memoryLogger } from '../../src/core/logger.js';
import { Secrets } from '../../src/secrets/redact.js';
import { GitHubBackoffError } from '../../src/adapters/github-budget.js';

let h: Harness;
afterEach(async () => {
  await h?.fake.stop();
});

const MAC = ['self-hosted', 'coder'];

async function world(): Promise<void> {
  h.fake.addRepos(['app', 'lib']);
  h.fake.queueJob({ repo: 'app', labels: MAC });
}

test.each([403, 429] as const)('primary rate limit (%i, remaining 0, reset far away): throws, never an empty list, and nothing is sent until the reset', async (status) => {
  h = await harness();
  await world();
  h.fake.exhaustRateLimit({ resetInSeconds: 3600, status });
  await expect(h.adapter.listJobs()).rejects.toMatchObject({ status });
  // Exactly one request: no blind retries.
  expect(h.fake.totalRequests).toBe(1);
  const budget = h.adapter.requestBudget();
  expect(budget.backoffReason).toBe('primary rate limit exhausted');
  expect(budget.backoffUntil! - Date.now()).toBeGreaterThan(3_000_000);
  await expect(h.adapter.listRunners()).rejects.toBeInstanceOf(GitHubBackoffError);
  expect(h.fake.totalRequests).toBe(1);
  expect(h.entries.filter((e) => e.msg === 'github asked us to slow down: backing off')).toHaveLength(1);
});

test('primary rate limit with a near reset: the tick fails, the next one after the reset succeeds', async () => {
  h = await harness();
  await world();
  h.fake.exhaustRateLimit({ resetInSeconds: 1 });
  await expect(h.adapter.listJobs()).rejects.toMatchObject({ status: 403 });
  const until = h.adapter.requestBudget().backoffUntil!;
  expect(until - Date.now()).toBeLessThanOrEqual(2000); // reset is in whole epoch seconds
  await new Promise((r) => setTimeout(r, Math.max(0, until - Date.now()) + 50));
  const demand = await h.adapter.listJobs();
  expect(demand.jobs).toHaveLength(1);
}, 15_000);

test('secondary rate limit: the call fails, the whole adapter backs off for retry-after (logged once, sends nothing), then resumes', async () => {
  let t = Date.parse('2026-01-01T00:00:00Z');
  const now = () => t;
  h = await harness({ now }, { now });
  await world();
  h.fake.secondaryRateLimit({ count: 1, retryAfterSeconds: 30 });
  await expect(h.adapter.listJobs()).rejects.toMatchObject({ status: 403 });
  const sent = h.fake.totalRequests;
  expect(sent).toBe(1); // not retried: a retry inside a secondary limit prolongs it
  t += 10_000;
  await expect(h.adapter.listRunners()).rejects.toBeInstanceOf(GitHubBackoffError);
  await expect(h.adapter.listJobs()).rejects.toBeInstanceOf(GitHubBackoffError);
  await expect(h.adapter.createJitRunner({ name: 'tf-coder-1', labels: MAC, runnerGroupId: 1 })).rejects.toBeInstanceOf(GitHubBackoffError);
  expect(h.fake.totalRequests).toBe(sent);
  expect(h.adapter.requestBudget()).toMatchObject({ backoffUntil: Date.parse('2026-01-01T00:00:30Z'), backoffReason: 'secondary rate limit', backoffs: 1 });
  expect(h.entries.filter((e) => e.msg === 'github asked us to slow down: backing off')).toHaveLength(1);
  t += 20_001;
  const demand = await h.adapter.listJobs();
  expect(demand.jobs).toHaveLength(1);
  expect(h.adapter.requestBudget().backoffUntil).toBeNull();
});

test('secondary rate limit without retry-after: backs off for plugin-throttling\'s 60 s', async () => {
  const t = Date.parse('2026-01-01T00:00:00Z');
  const now = () => t;
  h = await harness({ now }, { now });
  await world();
  h.fake.secondaryRateLimit({ count: 1, retryAfterSeconds: 0 });
  await expect(h.adapter.listRunners()).rejects.toMatchObject({ status: 403 });
  expect(h.fake.requestCount('GET /orgs/{org}/actions/runners')).toBe(1);
  const until = h.adapter.requestBudget().backoffUntil!;
  expect(until - t).toBeGreaterThanOrEqual(1000);
  expect(until - t).toBeLessThanOrEqual(60_000);
});

// A 429 with neither the secondary-limit text nor `x-ratelimit-remaining: 0` (a load balancer's or a
// proxy's): neither plugin-throttling (it acts on those two signs only) nor plugin-retry (429 is in
// doNotRetry) backs off for it, so the adapter must, or the next tick asks again at once.
test.each([
  { what: 'with retry-after 30', headers: { 'retry-after': '30' }, seconds: 30 },
  { what: 'without retry-after: a minute', headers: undefined, seconds: 60 },
])('a bare 429 on a read, $what: the call fails and the whole adapter backs off', async ({ headers, seconds }) => {
  const t = Date.parse('2026-01-01T00:00:00Z');
  const now = () => t;
  h = await harness({ now }, { now });
  await world();
  h.fake.failNext(1, 429, headers);
  await expect(h.adapter.listRunners()).rejects.toMatchObject({ status: 429 });
  expect(h.adapter.requestBudget()).toMatchObject({ backoffUntil: t + seconds * 1000, backoffReason: 'too many requests (429)' });
  const sent = h.fake.totalRequests;
  await expect(h.adapter.listJobs()).rejects.toBeInstanceOf(GitHubBackoffError);
  expect(h.fake.totalRequests).toBe(sent);
});

test('a bare 429 on a write (a claim): the claim fails, not retried, and the adapter backs off', async () => {
  const t = Date.parse('2026-01-01T00:00:00Z');
  const now = () => t;
  h = await harness({ now }, { now });
  await world();
  h.fake.failNext(1, 429, { 'retry-after': '45' });
  await expect(h.adapter.createJitRunner({ name: 'tf-coder-1', labels: MAC, runnerGroupId: 1 })).rejects.toMatchObject({ status: 429 });
  expect(h.fake.requestCount('POST /orgs/{org}/actions/runners/generate-jitconfig')).toBe(1);
  expect(h.adapter.requestBudget()).toMatchObject({ backoffUntil: t + 45_000, backoffReason: 'too many requests (429)' });
  await expect(h.adapter.listRunners()).rejects.toBeInstanceOf(GitHubBackoffError);
});

test('5xx is retried (1, 4, 9 × the base, as plugin-retry would) and the sweep succeeds', async () => {
  h = await harness();
  await world();
  h.fake.failNext(2, 502);
  const demand = await h.adapter.listJobs();
  expect(demand.jobs).toHaveLength(1);
  // The first request failed twice then succeeded: both retries are counted in the stats.
  // (and the "recently pushed" page after it)
  expect(h.fake.requestCount('GET /orgs/{org}/repos')).toBe(4);
  expect(demand.stats.requests).toBe(h.fake.totalRequests);
});

test('5xx beyond the retries: throws', async () => {
  h = await harness();
  await world();
  h.fake.failNext(4, 500);
  await expect(h.adapter.listJobs()).rejects.toMatchObject({ status: 500 });
  expect(h.fake.requestCount('GET /orgs/{org}/repos')).toBe(4);
});

test('no answer at all (the connection drops): status 500, retried like a 5xx, then throws', async () => {
  // A server that accepts each connection and closes it without a byte: no HTTP status to judge.
  const sockets: Socket[] = [];
  const server = createServer((socket) => {
    sockets.push(socket);
    socket.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  try {
    const adapter = new GitHubAdapter({
      apiUrl: `http://127.0.0.1:${port}`, org: 'acme', auth: { kind: 'token', token: TOKEN }, repositories: [],
      logger: memoryLogger(), secrets: new Secrets(), retry: { retries: 2, retryAfterBaseValue: 5 },
    });
    await expect(adapter.listRunners()).rejects.toMatchObject({ name: 'HttpError', status: 500 });
    expect(sockets.length).toBe(3); // the first try and two retries
  } finally {
    await new Promise((r) => server.close(r));
  }
});

test('outage: listJobs, listRunners and getJob throw', async () => {
  h = await harness();
  await world();
  h.fake.setOutage(true);
  await expect(h.adapter.listJobs()).rejects.toMatchObject({ status: 502 });
  await expect(h.adapter.listRunners()).rejects.toMatchObject({ status: 502 });
  await expect(h.adapter.getJob('app', 1)).rejects.toMatchObject({ status: 502 });
});

test('bad credentials: 401 throws', async () => {
  h = await harness();
  await world();
  const adapter = h.make({ auth: { kind: 'token', token: 'ghp_wrongwrongwrongwrongwrongwrong' } });
  await expect(adapter.listJobs()).rejects.toMatchObject({ status: 401 });
});

test("the default budget (300 a minute) keeps 80 busy repos swept every 15 s far under GitHub's 900 points a minute", async () => {
  // Audit L1: GitHub allows 900 points a minute (GET = 1); the old sweep (3 run lists per active repo)
  // passed it here at the fourth sweep of a minute.
  let t = Date.parse('2026-01-01T00:00:00Z');
  const now = () => t;
  h = await harness({ now, secondaryPoints: { pointsPerMinute: 900 } }, { now });
  for (let i = 1; i <= 80; i++) h.fake.queueJob({ repo: `r${i}`, labels: MAC });
  let found = 0;
  for (let sweep = 0; sweep < 8; sweep++) {
    found = (await h.adapter.listJobs()).jobs.length;
    t += 15_000;
  }
  expect(found).toBe(80);
  expect(h.fake.secondaryRefusalCount).toBe(0);
  expect(h.adapter.requestBudget().lastMinute).toBeLessThanOrEqual(300);
});

test('a budget set above what GitHub allows: the points limit refuses part-way, the sweep fails closed, the rest is not sent, and the adapter backs off', async () => {
  let t = Date.parse('2026-01-01T00:00:00Z');
  const now = () => t;
  h = await harness(
    { now, secondaryPoints: { pointsPerMinute: 900, per: 'all' }, rateLimit: { limit: 1_000_000 } },
    { now, maxRequestsPerMinute: 5000, quietRepoSweepSeconds: 0 },
  );
  h.fake.addRepos(400);
  // ~400 requests a sweep: the third within the minute passes 900.
  let failure: unknown;
  for (let sweep = 0; sweep < 4 && failure === undefined; sweep++) {
    h.fake.resetCounters();
    failure = await h.adapter.listJobs().then(() => undefined, (err: unknown) => err);
    t += 15_000;
  }
  expect(failure).toMatchObject({ status: 403 });
  // Requests already in flight finish; the ones still queued are never sent.
  const settled = async () => {
    const before = h.fake.totalRequests;
    await new Promise((r) => setTimeout(r, 300));
    return h.fake.totalRequests === before;
  };
  for (let i = 0; i < 20 && !(await settled()); i++);
  expect(h.fake.totalRequests).toBeLessThan(400);
  expect(h.fake.secondaryRefusalCount).toBeGreaterThan(0);
  expect(h.adapter.requestBudget().backoffReason).toBe('secondary rate limit');
  await expect(h.adapter.listRunners()).rejects.toBeInstanceOf(GitHubBackoffError);
}, 60_000);
