// The event feed (github-hook-feed.ts) through the real adapter against the fake GitHub's delivery log:
// a delivery makes its repository urgent so the next sweep finds a job the round would reach only in
// minutes; deliveries are hints, never demand; a lost delivery is found by the round; a deleted hook,
// a missing scope, a throttled delivery are reported and the sweep carries on; the App's own hook is
// read with its JWT.
import { generateKeyPairSync } from 'node:crypto';
import { harness, type Harness } from './github-helpers.js';

let h: Harness;
afterEach(async () => {
  await h?.fake.stop();
});

const MAC = ['self-hosted', 'coder'];
const DAY = 86_400_000;
const HOOK_PAT = { kind: 'classic' as const, scopes: ['admin:org', 'repo', 'admin:org_hook'] };

/** A 400-repository org at 60 requests a minute (a round of ~7 minutes), every repo swept once. */
async function bigOrg(over: Parameters<typeof harness>[1] = {}, fakeOver: Parameters<typeof harness>[0] = {}) {
  const clock = { t: Date.parse('2026-01-01T00:00:00Z') };
  const now = () => clock.t;
  h = await harness({ now, pat: HOOK_PAT, rateLimit: { limit: 1_000_000 }, ...fakeOver }, { now, maxRequestsPerMinute: 60, ...over });
  for (let i = 1; i <= 400; i++) h.fake.addRepo(`r${String(i).padStart(3, '0')}`, { pushedAt: clock.t - DAY });
  const hook = h.fake.addOrgHook();
  return { clock, hook };
}

async function warm(clock: { t: number }, adapter = h.adapter): Promise<void> {
  await adapter.pollFeed();
  for (let i = 0; i < 200 && (await adapter.listJobs()).stats.unsweptRepositories > 0; i++) clock.t += 15_000;
  clock.t += 15_000;
}

/** Ticks of 15 s (a feed poll, then a sweep) until the job is seen; the simulated seconds waited. */
async function secondsUntilSeen(clock: { t: number }, jobId: number, adapter = h.adapter, maxTicks = 80): Promise<number> {
  const start = clock.t;
  for (let tick = 0; tick < maxTicks; tick++) {
    await adapter.pollFeed();
    if ((await adapter.listJobs()).jobs.some((j) => j.id === jobId)) return (clock.t - start) / 1000;
    clock.t += 15_000;
  }
  throw new Error('never seen');
}

test('a comment-triggered job in an org whose round takes minutes is seen on the next sweep after a delivery', async () => {
  const { clock, hook } = await bigOrg();
  h = { ...h, adapter: h.make({ hook: { kind: 'org', hookId: hook.id } }) };
  await warm(clock);
  const { jobId } = h.fake.queueJob({ repo: 'r123', labels: MAC, event: 'issue_comment' });
  expect(await h.adapter.pollFeed()).toBe(1);
  expect((await h.adapter.listJobs()).jobs.map((j) => j.id)).toEqual([jobId]);
  expect(h.adapter.feedStatus()).toMatchObject({ state: 'ok', hints: 1, source: `org hook ${hook.id}` });
  // A poll with nothing new is one conditional request.
  const before = h.fake.requestCount('GET /orgs/{org}/hooks/{hook_id}/deliveries');
  expect(await h.adapter.pollFeed()).toBe(0);
  expect(h.fake.requestCount('GET /orgs/{org}/hooks/{hook_id}/deliveries')).toBe(before + 1);
}, 60_000);

test('the same job without a feed waits for the round (the baseline the feed removes)', async () => {
  const { clock } = await bigOrg();
  await warm(clock);
  const { jobId } = h.fake.queueJob({ repo: 'r123', labels: MAC, event: 'issue_comment' });
  expect(await secondsUntilSeen(clock, jobId)).toBeGreaterThan(60);
}, 60_000);

test('an old run re-run in place: the delivery sends the sweep below the first runs page at once', async () => {
  const { clock, hook } = await bigOrg();
  h = { ...h, adapter: h.make({ hook: { kind: 'org', hookId: hook.id } }) };
  const old = h.fake.queueJob({ repo: 'r050', labels: MAC, name: 'flaky', event: 'pull_request' });
  h.fake.completeJob(old.jobId, 'failed');
  for (let i = 0; i < 25; i++) h.fake.completeJob(h.fake.queueJob({ repo: 'r050', labels: ['ubuntu-latest'], event: 'schedule' }).jobId);
  await warm(clock);
  h.fake.rerunJob(old.jobId);
  expect(await secondsUntilSeen(clock, old.jobId)).toBe(0);
}, 60_000);

test('deliveries are hints, never demand: a forged delivery creates nothing; one for a repository not swept is ignored', async () => {
  const { clock, hook } = await bigOrg();
  h = { ...h, adapter: h.make({ hook: { kind: 'org', hookId: hook.id } }) };
  await warm(clock);
  const repo = h.fake.world.repos.get('acme/r200')!;
  const forged = (repositoryId: number, fullName: string) => h.fake.world.hooks.emit({
    event: 'workflow_job',
    action: 'queued',
    repositoryId,
    payload: { action: 'queued', workflow_job: { id: 999_999, labels: MAC, status: 'queued' }, repository: { id: repositoryId, full_name: fullName } },
  });
  forged(repo.id, repo.fullName);
  forged(987_654, 'elsewhere/secret');
  expect(await h.adapter.pollFeed()).toBe(1);
  const demand = await h.adapter.listJobs();
  expect(demand.jobs).toEqual([]);
  expect(h.adapter.feedStatus()).toMatchObject({ hints: 1, ignored: 1 });
}, 60_000);

test('a lost delivery: the job is still found within the round', async () => {
  const { clock, hook } = await bigOrg();
  h = { ...h, adapter: h.make({ hook: { kind: 'org', hookId: hook.id } }) };
  await warm(clock);
  h.fake.hookFaults({ lose: 1 });
  const { jobId } = h.fake.queueJob({ repo: 'r321', labels: MAC, event: 'workflow_dispatch' });
  // 400 repos at ~54 a minute (the feed takes its share): a round of about 8 minutes.
  expect(await secondsUntilSeen(clock, jobId, h.adapter, 60)).toBeLessThanOrEqual(600);
}, 60_000);

test('a hook that disappears, or a token without admin:org_hook: the feed says so, the sweep carries on', async () => {
  const { clock, hook } = await bigOrg();
  h = { ...h, adapter: h.make({ hook: { kind: 'org', hookId: hook.id } }) };
  await warm(clock);
  h.fake.deleteOrgHook(hook.id);
  expect(await h.adapter.pollFeed()).toBe(0);
  expect(h.adapter.feedStatus()).toMatchObject({ state: 'failing', problem: expect.stringContaining('not found') });
  expect(h.entries.some((e) => e.level === 'warn' && /feed failing/.test(e.msg))).toBe(true);
  const { jobId } = h.fake.queueJob({ repo: 'r007', labels: MAC, event: 'push' });
  expect(await secondsUntilSeen(clock, jobId)).toBe(0); // the push signal still works
  // Failing: polled again only after a minute (no request now).
  const asked = h.fake.requestCount('GET /orgs/{org}/hooks/{hook_id}/deliveries');
  await h.adapter.pollFeed();
  expect(h.fake.requestCount('GET /orgs/{org}/hooks/{hook_id}/deliveries')).toBe(asked);

  h.fake.addToken('ghp_nohookscope000000000000000000000000', { kind: 'classic', scopes: ['admin:org', 'repo'] });
  const hook2 = h.fake.addOrgHook();
  const noScope = h.make({ hook: { kind: 'org', hookId: hook2.id }, auth: { kind: 'token', token: 'ghp_nohookscope000000000000000000000000' } });
  await noScope.pollFeed();
  expect(noScope.feedStatus()).toMatchObject({ state: 'failing', problem: expect.stringContaining('admin:org_hook') });
}, 60_000);

test('throttled deliveries are counted and still hints', async () => {
  const { clock, hook } = await bigOrg();
  h = { ...h, adapter: h.make({ hook: { kind: 'org', hookId: hook.id } }) };
  await warm(clock);
  h.fake.hookFaults({ throttle: 1 });
  const { jobId } = h.fake.queueJob({ repo: 'r111', labels: MAC, event: 'schedule' });
  expect(await secondsUntilSeen(clock, jobId)).toBe(0);
  expect(h.adapter.feedStatus()).toMatchObject({ throttled: 1 });
}, 60_000);

test("GitHub App auth: the App's own webhook, read with the App's JWT", async () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
  const { clock } = await bigOrg(
    { auth: { kind: 'app', appId: 31, installationId: 8, privateKey }, hook: { kind: 'app' } },
    { app: { appId: 31, installationId: 8, publicKey } },
  );
  h.fake.setAppHook({});
  await warm(clock);
  const { jobId } = h.fake.queueJob({ repo: 'r250', labels: MAC, event: 'pull_request' });
  expect(await secondsUntilSeen(clock, jobId)).toBe(0);
  expect(h.adapter.feedStatus()).toMatchObject({ state: 'ok', source: 'app hook', hints: 1 });
  expect(h.fake.requestCount('GET /app/hook/deliveries')).toBeGreaterThan(0);
}, 60_000);

test('an allow-list (repository ids unknown): the delivery\'s payload names the repository', async () => {
  const { clock, hook } = await bigOrg();
  const allow = h.make({ hook: { kind: 'org', hookId: hook.id }, repositories: ['r010', 'r020'] });
  await warm(clock, allow);
  const { jobId } = h.fake.queueJob({ repo: 'r020', labels: MAC, event: 'issue_comment' });
  expect(await allow.pollFeed()).toBe(1);
  expect((await allow.listJobs()).jobs.map((j) => j.id)).toEqual([jobId]);
  expect(h.fake.requestCount('GET /orgs/{org}/hooks/{hook_id}/deliveries/{delivery_id}')).toBe(1);
}, 60_000);
