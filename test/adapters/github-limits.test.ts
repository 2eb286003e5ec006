// Rate limits and server errors through the real throttling and retry plugins: primary limit
// (403/429, remaining 0) waits or throws but never reads as "no jobs", secondary limit honours
// retry-after, 5xx is retried by plugin-retry, an outage fails the call.
import { harness, type Harness } from './github-helpers.js';

let h: Harness;
afterEach(async () => {
  await h?.fake.stop();
});

const MAC = ['self-hosted', 'coder'];

async function world(): Promise<void> {
  h.fake.addRepos(['app', 'lib']);
  h.fake.queueJob({ repo: 'app', labels: MAC });
}

test.each([403, 429] as const)('primary rate limit (%i, remaining 0, reset far away): throws, never an empty list', async (status) => {
  h = await harness();
  await world();
  h.fake.exhaustRateLimit({ resetInSeconds: 3600, status });
  await expect(h.adapter.listJobs()).rejects.toMatchObject({ status });
  const warn = h.entries.find((e) => e.msg === 'github primary rate limit');
  expect(warn?.ctx).toMatchObject({ willRetry: false });
  expect(warn!.ctx.retryAfterSeconds as number).toBeGreaterThan(3000);
  // Exactly one request: no blind retries from plugin-retry either.
  expect(h.fake.requestCount('GET /orgs/{org}/repos')).toBe(1);
});

test('primary rate limit with a near reset: waits for the reset and succeeds', async () => {
  h = await harness();
  await world();
  h.fake.exhaustRateLimit({ resetInSeconds: 1 });
  // retryAfter is counted in real seconds here (reset is wall-clock epoch seconds).
  const adapter = h.make({ throttle: { id: `near-reset-${Date.now()}`, retryAfterBaseValue: 1000 } });
  const t0 = Date.now();
  const demand = await adapter.listJobs();
  expect(demand.jobs).toHaveLength(1);
  expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
  expect(h.entries.some((e) => e.msg === 'github primary rate limit' && e.ctx.willRetry === true)).toBe(true);
}, 15_000);

test('secondary rate limit: retried once after retry-after', async () => {
  h = await harness();
  await world();
  h.fake.secondaryRateLimit({ count: 1, retryAfterSeconds: 2 });
  const demand = await h.adapter.listJobs();
  expect(demand.jobs).toHaveLength(1);
  const warn = h.entries.find((e) => e.msg === 'github secondary rate limit');
  expect(warn?.ctx).toMatchObject({ retryAfterSeconds: 2, willRetry: true, retryCount: 0 });
});

test('secondary rate limit that persists: gives up after one retry and throws', async () => {
  h = await harness();
  await world();
  h.fake.secondaryRateLimit({ count: 5, retryAfterSeconds: 1 });
  await expect(h.adapter.listJobs()).rejects.toMatchObject({ status: 403 });
  expect(h.fake.requestCount('GET /orgs/{org}/repos')).toBe(2);
});

test('secondary rate limit with a long retry-after: no retry', async () => {
  h = await harness();
  await world();
  h.fake.secondaryRateLimit({ count: 1, retryAfterSeconds: 600 });
  await expect(h.adapter.listRunners()).rejects.toMatchObject({ status: 403 });
  expect(h.fake.requestCount('GET /orgs/{org}/actions/runners')).toBe(1);
});

test('5xx is retried by plugin-retry and the sweep succeeds', async () => {
  h = await harness();
  await world();
  h.fake.failNext(2, 502);
  const demand = await h.adapter.listJobs();
  expect(demand.jobs).toHaveLength(1);
  // The first request failed twice then succeeded: both retries are counted in the stats.
  expect(h.fake.requestCount('GET /orgs/{org}/repos')).toBe(3);
  expect(demand.stats.requests).toBe(h.fake.totalRequests);
});

test('5xx beyond the retries: throws', async () => {
  h = await harness();
  await world();
  h.fake.failNext(4, 500);
  await expect(h.adapter.listJobs()).rejects.toMatchObject({ status: 500 });
  expect(h.fake.requestCount('GET /orgs/{org}/repos')).toBe(4);
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

test('secondary limit by points per route: 80 active repos swept every 15 s pass 900 points a minute on the runs route, and the sweep fails closed', async () => {
  // Audit L1: GitHub allows 900 points a minute (GET = 1); whether per route template is unverified,
  // the fake takes that reading. Each sweep lists 3 run statuses per active repo: 240 GETs here.
  let t = Date.parse('2026-01-01T00:00:00Z');
  const now = () => t;
  // No retry: a retry-after wait would outlive the sweep's rejection (the fake clock does not move).
  h = await harness({ now, secondaryPoints: { pointsPerMinute: 900 } }, { now, throttle: { id: `points-${Date.now()}`, maxRetries: 0 } });
  for (let i = 1; i <= 80; i++) h.fake.addRepo(`r${i}`, { pushedAt: t });
  for (let sweep = 0; sweep < 3; sweep++) {
    await expect(h.adapter.listJobs()).resolves.toMatchObject({ jobs: [] });
    t += 15_000;
  }
  expect(h.fake.secondaryRefusalCount).toBe(0);
  // The fourth sweep within the minute would make 960 points: refused part-way, and the whole sweep throws.
  h.fake.resetCounters();
  await expect(h.adapter.listJobs()).rejects.toMatchObject({ status: 403 });
  // Requests already in flight finish; the ones still queued are never sent (1 repo page + 240 would be).
  const settled = async () => {
    const before = h.fake.totalRequests;
    await new Promise((r) => setTimeout(r, 300));
    return h.fake.totalRequests === before;
  };
  for (let i = 0; i < 20 && !(await settled()); i++);
  expect(h.fake.totalRequests).toBeLessThan(241);
  expect(h.fake.secondaryRefusalCount).toBeGreaterThan(0);
  expect(h.entries.some((e) => e.msg === 'github secondary rate limit')).toBe(true);
});
