// The fake GitHub's webhooks and delivery log, held to GitHub's docs (sources in src/sim/github/hooks.ts):
// every trigger the runs list shows, org hooks, deliveries newest first with cursor paging by `link`,
// a delivery's payload, retention, delay, loss and throttling, the App's hook behind its JWT, and the
// scope a classic token needs.
import { generateKeyPairSync } from 'node:crypto';
import githubAppJwt from 'universal-github-app-jwt';
import { FakeGitHub } from '../../src/sim/github/server.js';

const TOKEN = 'ghp_hooks0123456789abcdefghijklmnopqrs';
const MAC = ['self-hosted', 'coder'];
let fake: FakeGitHub | undefined;
afterEach(async () => {
  await fake?.stop();
  fake = undefined;
});

async function start(over: ConstructorParameters<typeof FakeGitHub>[0] = {}) {
  const clock = { t: Date.parse('2026-03-01T10:00:00.250Z') };
  fake = new FakeGitHub({ org: 'acme', tokens: [TOKEN], now: () => clock.t, pat: { kind: 'classic', scopes: ['admin:org', 'repo', 'admin:org_hook'] }, ...over });
  const url = await fake.start();
  const get = async (path: string, auth = `token ${TOKEN}`) => {
    const res = await fetch(path.startsWith('http') ? path : `${url}${path}`, { headers: { authorization: auth } });
    return { status: res.status, link: res.headers.get('link'), body: res.status === 204 ? null : await res.json() as unknown };
  };
  return { clock, url, get, fake };
}

test('triggers: only a push moves pushed_at (whole seconds); a re-run keeps the run\'s created_at and place', async () => {
  const { clock, get, fake } = await start();
  fake.addRepo('app', { pushedAt: clock.t - 86_400_000 });
  const before = ((await get('/orgs/acme/repos')).body as Array<{ pushed_at: string }>)[0]!.pushed_at;
  for (const event of ['issue_comment', 'pull_request', 'workflow_dispatch', 'schedule']) {
    clock.t += 1000;
    fake.queueJob({ repo: 'app', labels: MAC, event });
  }
  expect(((await get('/orgs/acme/repos')).body as Array<{ pushed_at: string }>)[0]!.pushed_at).toBe(before);
  clock.t += 1000;
  fake.queueJob({ repo: 'app', labels: MAC, event: 'push' });
  const pushed = ((await get('/orgs/acme/repos')).body as Array<{ pushed_at: string }>)[0]!.pushed_at;
  expect(pushed).toBe('2026-03-01T10:00:05Z'); // the push at 05.250 shows as whole seconds

  const old = fake.queueJob({ repo: 'app', labels: MAC, event: 'schedule' });
  fake.completeJob(old.jobId, 'failed');
  clock.t += 60_000;
  fake.queueJob({ repo: 'app', labels: MAC, event: 'push' });
  fake.rerunJob(old.jobId);
  const runs = ((await get('/repos/acme/app/actions/runs')).body as { workflow_runs: Array<{ id: number; created_at: string; run_attempt: number; run_started_at: string; event: string }> }).workflow_runs;
  const rerun = runs.find((r) => r.id === old.runId)!;
  expect(runs[0]!.id).not.toBe(old.runId); // the newer run stays above it
  expect(rerun).toMatchObject({ created_at: '2026-03-01T10:00:05Z', run_attempt: 2, run_started_at: '2026-03-01T10:01:05Z' });
  expect(fake.job(old.jobId).status).toBe('queued');
  expect(runs.map((r) => r.event)).toEqual(expect.arrayContaining(['issue_comment', 'pull_request', 'workflow_dispatch', 'schedule', 'push']));
});

test('org hook deliveries: newest first, per_page and cursor paging by link, payload by id, 3-day retention', async () => {
  const { clock, get, fake } = await start();
  const hook = fake.addOrgHook();
  fake.addOrgHook({ events: ['push'] }); // not subscribed to workflow_job: records none of these
  expect((await get(`/orgs/acme/hooks/${hook.id}`)).body).toMatchObject({ id: hook.id, active: true, events: ['workflow_job'], config: { url: 'https://tart-fleet.invalid/' } });
  const jobs = [];
  for (let i = 0; i < 5; i++) {
    clock.t += 1000;
    jobs.push(fake.queueJob({ repo: `r${i}`, labels: MAC, event: 'issue_comment' }));
  }
  const first = await get(`/orgs/acme/hooks/${hook.id}/deliveries?per_page=2`);
  const items = first.body as Array<{ id: number; event: string; action: string; repository_id: number; status: string; status_code: number; redelivery: boolean; guid: string; delivered_at: string; throttled_at: string | null }>;
  expect(items).toHaveLength(2);
  expect(items[0]!.id).toBeGreaterThan(items[1]!.id);
  expect(items[0]).toMatchObject({ event: 'workflow_job', action: 'queued', repository_id: fake.world.repos.get('acme/r4')!.id, redelivery: false, throttled_at: null });
  expect(items[0]!.status).not.toBe('OK'); // the URL never resolves: every attempt failed
  const next = /<([^>]+)>; rel="next"/.exec(first.link ?? '')?.[1];
  expect(next).toContain('cursor=');
  const second = (await get(next!)).body as Array<{ id: number }>;
  expect(second.map((d) => d.id)).toEqual([items[1]!.id - 1, items[1]!.id - 2]);
  const one = (await get(`/orgs/acme/hooks/${hook.id}/deliveries/${items[0]!.id}`)).body as { request: { payload: { workflow_job: { id: number }; repository: { full_name: string } } } };
  expect(one.request.payload.workflow_job.id).toBe(jobs[4]!.jobId);
  expect(one.request.payload.repository.full_name).toBe('acme/r4');

  clock.t += 3 * 86_400_000 - 1500; // the deliveries at 04 and 05 s are within 3 days, 01–03 are not
  expect((await get(`/orgs/acme/hooks/${hook.id}/deliveries?per_page=100`)).body).toHaveLength(2);
  fake.deleteOrgHook(hook.id);
  expect((await get(`/orgs/acme/hooks/${hook.id}/deliveries`)).status).toBe(404);
});

test('delivery faults: a delay before it shows, a lost one, a throttled one', async () => {
  const { clock, get, fake } = await start();
  const hook = fake.addOrgHook();
  const list = async () => (await get(`/orgs/acme/hooks/${hook.id}/deliveries`)).body as Array<{ repository_id: number; throttled_at: string | null }>;
  fake.hookFaults({ delayMs: 30_000 });
  fake.queueJob({ repo: 'late', labels: MAC });
  expect(await list()).toEqual([]);
  clock.t += 30_000;
  expect(await list()).toHaveLength(1);
  fake.hookFaults({ delayMs: 0, lose: 1, throttle: 1 });
  fake.queueJob({ repo: 'lost', labels: MAC });
  fake.queueJob({ repo: 'throttled', labels: MAC });
  const now = await list();
  expect(now).toHaveLength(2);
  expect(now[0]!.repository_id).toBe(fake.world.repos.get('acme/throttled')!.id);
  expect(now[0]!.throttled_at).not.toBeNull();
});

test('access: a classic token needs admin:org_hook (admin:org is not enough); the App hook only with its JWT', async () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
  const { get, fake } = await start({ app: { appId: 77, installationId: 5, publicKey }, pat: { kind: 'classic', scopes: ['admin:org', 'repo'] } });
  const hook = fake.addOrgHook();
  const denied = await get(`/orgs/acme/hooks/${hook.id}/deliveries`);
  expect(denied.status).toBe(403);
  fake.addToken('ghp_withhook', { kind: 'classic', scopes: ['admin:org', 'repo', 'admin:org_hook'] });
  expect((await get(`/orgs/acme/hooks/${hook.id}/deliveries`, 'token ghp_withhook')).status).toBe(200);

  fake.setAppHook({});
  fake.queueJob({ repo: 'app-repo', labels: MAC, event: 'pull_request' });
  const { token: jwt } = await githubAppJwt({ id: 77, privateKey });
  expect((await get('/app/hook/deliveries', `token ${TOKEN}`)).status).toBe(401);
  const app = await get('/app/hook/deliveries', `Bearer ${jwt}`);
  expect(app.status).toBe(200);
  expect(app.body).toEqual([expect.objectContaining({ event: 'workflow_job', action: 'queued', installation_id: 5 })]);
  expect((await get('/app/hook/config', `Bearer ${jwt}`)).body).toMatchObject({ url: 'https://tart-fleet.invalid/' });
});
