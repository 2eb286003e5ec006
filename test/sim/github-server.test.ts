// The fake GitHub's REST surface, spoken to with plain fetch: headers, pagination links, ETags and
// 304s, error bodies, authentication, faults, rate limits and the records it keeps.
import { FakeGitHub } from '../../src/sim/github/server.js';
import { fakeGitHubPerTest } from './fake-github-fixture.js';

const TOKEN = 'ghp_simtesttoken0123456789abcdefghijklm';
let fake: FakeGitHub;
let url: string;

fakeGitHubPerTest({ org: 'acme', tokens: [TOKEN] }, (f, u) => {
  fake = f;
  url = u;
});

const get = (path: string, headers: Record<string, string> = {}) =>
  fetch(`${url}${path}`, { headers: { authorization: `token ${TOKEN}`, ...headers } });
const post = (path: string, body: unknown, auth = `Bearer ${TOKEN}`) =>
  fetch(`${url}${path}`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/json' }, body: JSON.stringify(body) });

test('rate-limit headers on every response, weak ETag on GETs', async () => {
  fake.addRepos(3);
  const res = await get('/orgs/acme/repos');
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
  expect(res.headers.get('etag')).toMatch(/^W\/"[0-9a-f]+"$/);
  expect(res.headers.get('x-ratelimit-limit')).toBe('5000');
  expect(res.headers.get('x-ratelimit-remaining')).toBe('4999');
  expect(res.headers.get('x-ratelimit-used')).toBe('1');
  expect(Number(res.headers.get('x-ratelimit-reset'))).toBeGreaterThan(Date.now() / 1000);
  expect(res.headers.get('x-ratelimit-resource')).toBe('core');
  expect(res.headers.get('link')).toBeNull();
  const repos = (await res.json()) as Array<Record<string, unknown>>;
  expect(repos).toHaveLength(3);
  expect(repos[0]).toMatchObject({ full_name: expect.stringMatching(/^acme\/repo-/), owner: { login: 'acme' }, private: true });
  const unauth = await fetch(`${url}/orgs/acme/repos`);
  expect(unauth.status).toBe(401);
  expect(unauth.headers.get('x-ratelimit-remaining')).not.toBeNull();
  expect(await unauth.json()).toEqual({ message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest', status: '401' });
});

test('304 on if-none-match: no body, rate limit untouched, counted', async () => {
  fake.addRepos(2);
  const first = await get('/orgs/acme/repos');
  const etag = first.headers.get('etag')!;
  await first.text();
  const again = await get('/orgs/acme/repos', { 'if-none-match': etag });
  expect(again.status).toBe(304);
  expect(await again.text()).toBe('');
  expect(again.headers.get('x-ratelimit-remaining')).toBe('4999');
  expect(fake.notModifiedCount).toBe(1);
  expect(fake.requestCount('GET /orgs/{org}/repos')).toBe(2);
  // A change gives a new ETag.
  fake.addRepo('new');
  const changed = await get('/orgs/acme/repos', { 'if-none-match': etag });
  expect(changed.status).toBe(200);
  expect(changed.headers.get('x-ratelimit-remaining')).toBe('4998');
});

test('link pagination: per_page capped at 100 and kept, prev/next/first/last', async () => {
  fake.addRepos(250);
  const p1 = await get('/orgs/acme/repos?per_page=500&sort=full_name');
  expect(((await p1.json()) as unknown[]).length).toBe(100);
  const link1 = p1.headers.get('link')!;
  expect(link1).toContain('rel="next"');
  expect(link1).toContain('rel="last"');
  expect(link1).not.toContain('rel="prev"');
  expect(link1).toMatch(/per_page=100[^>]*&page=2>; rel="next"/);
  expect(link1).toMatch(/page=3>; rel="last"/);
  expect(link1).toContain('sort=full_name');
  const p2 = await get('/orgs/acme/repos?per_page=100&page=2&sort=full_name');
  const link2 = p2.headers.get('link')!;
  for (const rel of ['prev', 'next', 'last', 'first']) expect(link2).toContain(`rel="${rel}"`);
  const p3 = await get('/orgs/acme/repos?per_page=100&page=3&sort=full_name');
  const items3 = (await p3.json()) as Array<{ name: string }>;
  expect(items3).toHaveLength(50);
  expect(items3.at(-1)!.name).toBe('repo-0250');
  expect(p3.headers.get('link')).not.toContain('rel="next"');
});

test('runs and jobs: shapes, status filter, in_progress run with queued jobs', async () => {
  const a = fake.queueJob({ repo: 'app', labels: ['self-hosted', 'coder'], name: 'build' });
  const b = fake.queueJob({ repo: 'app', labels: ['self-hosted', 'coder'], name: 'test', runId: a.runId });
  fake.queueJob({ repo: 'app', labels: ['self-hosted', 'coder'], name: 'deploy', status: 'waiting' });
  let runs = (await (await get('/repos/acme/app/actions/runs?status=queued')).json()) as { total_count: number; workflow_runs: Array<Record<string, unknown>> };
  expect(runs.total_count).toBe(1);
  expect(runs.workflow_runs[0]).toMatchObject({ id: a.runId, status: 'queued', conclusion: null, repository: { full_name: 'acme/app' } });
  const waitingRuns = (await (await get('/repos/acme/app/actions/runs?status=waiting')).json()) as { total_count: number };
  expect(waitingRuns.total_count).toBe(1);

  fake.world.assign(); // nobody online: nothing assigned
  fake.completeJob(a.jobId);
  runs = (await (await get('/repos/acme/app/actions/runs?status=in_progress')).json()) as typeof runs;
  expect(runs.workflow_runs.map((r) => r.id)).toEqual([a.runId]);
  const jobs = (await (await get(`/repos/acme/app/actions/runs/${a.runId}/jobs?filter=latest`)).json()) as { total_count: number; jobs: Array<Record<string, unknown>> };
  expect(jobs.total_count).toBe(2);
  expect(jobs.jobs[1]).toMatchObject({
    id: b.jobId, run_id: a.runId, status: 'queued', conclusion: null, labels: ['self-hosted', 'coder'],
    runner_id: null, runner_name: null, runner_group_id: null, runner_group_name: null, name: 'test',
  });
  expect(typeof jobs.jobs[1]!.created_at).toBe('string');
  const one = await get(`/repos/acme/app/actions/jobs/${a.jobId}`);
  expect(await one.json()).toMatchObject({ id: a.jobId, status: 'completed', conclusion: 'success' });
  expect((await get('/repos/acme/app/actions/jobs/1')).status).toBe(404);
  expect((await get('/repos/acme/nope/actions/runs')).status).toBe(404);

  fake.cancelRun(a.runId);
  expect(fake.job(b.jobId)).toMatchObject({ status: 'completed', conclusion: 'cancelled' });
  const cancelled = (await (await get('/repos/acme/app/actions/runs?status=cancelled')).json()) as { total_count: number };
  expect(cancelled.total_count).toBe(1);
});

test('generate-jitconfig: 201, 409 on a duplicate name, 422 without a group, 404 unknown group; delete 204/404', async () => {
  const body = { name: 'tf-coder-1', labels: ['self-hosted', 'coder'], runner_group_id: 1 };
  const created = await post('/orgs/acme/actions/runners/generate-jitconfig', body);
  expect(created.status).toBe(201);
  const c = (await created.json()) as { runner: Record<string, unknown>; encoded_jit_config: string };
  expect(c.runner).toMatchObject({ name: 'tf-coder-1', os: 'unknown', status: 'offline', busy: false, version: '', ephemeral: true });
  expect(c.runner.labels).toEqual([
    { id: expect.any(Number), name: 'self-hosted', type: 'read-only' },
    { id: expect.any(Number), name: 'coder', type: 'custom' },
  ]);
  const dup = await post('/orgs/acme/actions/runners/generate-jitconfig', body);
  expect(dup.status).toBe(409);
  expect(await dup.json()).toMatchObject({ message: 'Already exists - A runner with the name tf-coder-1 already exists.', status: '409' });
  const noGroup = await post('/orgs/acme/actions/runners/generate-jitconfig', { name: 'x', labels: ['a'] });
  expect(noGroup.status).toBe(422);
  expect(((await noGroup.json()) as { message: string }).message).toBe('Invalid input: object is missing required key: runner_group_id');
  expect((await post('/orgs/acme/actions/runners/generate-jitconfig', { ...body, name: 'y', runner_group_id: 99999 })).status).toBe(404);

  const byName = (await (await get('/orgs/acme/actions/runners?name=tf-coder-1')).json()) as { total_count: number; runners: Array<{ id: number }> };
  expect(byName.total_count).toBe(1);
  const id = byName.runners[0]!.id;
  const del = await fetch(`${url}/orgs/acme/actions/runners/${id}`, { method: 'DELETE', headers: { authorization: `token ${TOKEN}` } });
  expect(del.status).toBe(204);
  const again = await fetch(`${url}/orgs/acme/actions/runners/${id}`, { method: 'DELETE', headers: { authorization: `token ${TOKEN}` } });
  expect(again.status).toBe(404);
  // The name is free again once deleted.
  expect((await post('/orgs/acme/actions/runners/generate-jitconfig', body)).status).toBe(201);
  expect(fake.runners().map((r) => [r.name, r.deletedBy])).toEqual([['tf-coder-1', 'api'], ['tf-coder-1', null]]);
});

test('faults: failNext, outage, secondary and primary rate limits, /rate_limit', async () => {
  fake.failNext(2, 503);
  expect((await get('/orgs/acme/repos')).status).toBe(503);
  expect((await get('/orgs/acme/repos')).status).toBe(503);
  expect((await get('/orgs/acme/repos')).status).toBe(200);
  fake.setOutage(true);
  expect((await get('/orgs/acme/repos')).status).toBe(502);
  fake.setOutage(false);

  fake.secondaryRateLimit({ count: 1, retryAfterSeconds: 7 });
  const sec = await get('/orgs/acme/repos');
  expect(sec.status).toBe(403);
  expect(sec.headers.get('retry-after')).toBe('7');
  expect(((await sec.json()) as { message: string }).message).toMatch(/secondary rate limit/);

  fake.exhaustRateLimit({ resetInSeconds: 120, status: 429 });
  const prim = await get('/orgs/acme/repos');
  expect(prim.status).toBe(429);
  expect(prim.headers.get('x-ratelimit-remaining')).toBe('0');
  expect(((await prim.json()) as { message: string }).message).toMatch(/^API rate limit exceeded/);
  const rl = (await (await get('/rate_limit')).json()) as { resources: { core: { remaining: number; limit: number } } };
  expect(rl.resources.core).toMatchObject({ remaining: 0, limit: 5000 });
  fake.setRateLimit({ remaining: 10 });
  expect((await get('/orgs/acme/repos')).status).toBe(200);
  expect(fake.rateLimit().remaining).toBe(9);
  expect(fake.requestCount('GET /rate_limit')).toBe(1);
  expect(fake.totalRequests).toBe(8);
});

test('GHES prefix: served under /api/v3 only', async () => {
  const ghes = new FakeGitHub({ org: 'acme', tokens: [TOKEN], pathPrefix: '/api/v3' });
  const base = await ghes.start();
  try {
    expect(base).toMatch(/\/api\/v3$/);
    ghes.addRepos(1);
    expect((await fetch(`${base}/orgs/acme/repos`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    expect((await fetch(`${base.replace('/api/v3', '')}/orgs/acme/repos`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(404);
  } finally {
    await ghes.stop();
  }
});

test('runner groups: the Default group in GitHub shape, a selected one, 404 in the error shape', async () => {
  const res = await get('/orgs/acme/actions/runner-groups/1');
  expect(res.status).toBe(200);
  expect(res.headers.get('etag')).toMatch(/^W\//);
  expect(await res.json()).toEqual({
    id: 1,
    name: 'Default',
    visibility: 'all',
    default: true,
    runners_url: `${url}/orgs/acme/actions/runner-groups/1/runners`,
    hosted_runners_url: `${url}/orgs/acme/actions/runner-groups/1/hosted-runners`,
    inherited: false,
    allows_public_repositories: false,
    restricted_to_workflows: false,
    selected_workflows: [],
    workflow_restrictions_read_only: false,
  });
  fake.addRunnerGroup({ id: 7, name: 'macs', visibility: 'selected', allowsPublicRepositories: true, restrictedToWorkflows: true, selectedWorkflows: ['acme/app/.github/workflows/ci.yml@refs/heads/main'] });
  const seven = (await (await get('/orgs/acme/actions/runner-groups/7')).json()) as Record<string, unknown>;
  expect(seven).toMatchObject({
    id: 7, name: 'macs', visibility: 'selected', default: false, allows_public_repositories: true, restricted_to_workflows: true,
    selected_repositories_url: `${url}/orgs/acme/actions/runner-groups/7/repositories`,
    selected_workflows: ['acme/app/.github/workflows/ci.yml@refs/heads/main'],
  });
  const missing = await get('/orgs/acme/actions/runner-groups/42');
  expect(missing.status).toBe(404);
  expect(await missing.json()).toEqual({
    message: 'Not Found',
    documentation_url: 'https://docs.github.com/rest/actions/self-hosted-runner-groups#get-a-self-hosted-runner-group-for-an-organization',
    status: '404',
  });
  expect((await get('/orgs/other/actions/runner-groups/1')).status).toBe(404);
  expect(fake.requestCount('GET /orgs/{org}/actions/runner-groups/{runner_group_id}')).toBe(4);
});

test('token kinds: a classic PAT shows its scopes and needs admin:org for runners; a fine-grained one shows none', async () => {
  // The default PAT is classic with admin:org and repo.
  const ok = await get('/orgs/acme/actions/runners');
  expect(ok.status).toBe(200);
  expect(ok.headers.get('x-oauth-scopes')).toBe('admin:org, repo');
  expect(ok.headers.get('x-accepted-oauth-scopes')).toBe('admin:org');

  fake.addToken('ghp_repoonly', { kind: 'classic', scopes: ['repo'] });
  const as = (token: string, path: string, init: RequestInit = {}) => fetch(`${url}${path}`, { ...init, headers: { authorization: `token ${token}`, 'content-type': 'application/json' } });
  for (const [path, init] of [
    ['/orgs/acme/actions/runners', {}],
    ['/orgs/acme/actions/runner-groups/1', {}],
    ['/orgs/acme/actions/runners/generate-jitconfig', { method: 'POST', body: JSON.stringify({ name: 'x', labels: ['a'], runner_group_id: 1 }) }],
  ] as const) {
    const denied = await as('ghp_repoonly', path, init);
    expect(denied.status).toBe(403);
    expect(denied.headers.get('x-oauth-scopes')).toBe('repo');
    expect(((await denied.json()) as { message: string }).message).toBe('Must have admin rights to Repository.');
  }
  expect(fake.runners()).toEqual([]);
  // Runs need no scope for a classic token (repo for private repos is not modelled).
  fake.addRepo('app');
  expect((await as('ghp_repoonly', '/repos/acme/app/actions/runs')).status).toBe(200);
  fake.addToken('ghp_none', { kind: 'classic', scopes: [] });
  expect((await as('ghp_none', '/orgs/acme/repos')).headers.get('x-oauth-scopes')).toBe('');

  fake.addToken('github_pat_any', { kind: 'fine-grained' });
  const fine = await as('github_pat_any', '/orgs/acme/actions/runners');
  expect(fine.status).toBe(200);
  expect(fine.headers.get('x-oauth-scopes')).toBeNull();
  expect(fine.headers.get('x-accepted-github-permissions')).toBe('organization_self_hosted_runners=read');
  fake.addToken('github_pat_ro', { kind: 'fine-grained', permissions: { organization_self_hosted_runners: 'read', actions: 'read' } });
  expect((await as('github_pat_ro', '/orgs/acme/actions/runners')).status).toBe(200);
  const roPost = await as('github_pat_ro', '/orgs/acme/actions/runners/generate-jitconfig', { method: 'POST', body: JSON.stringify({ name: 'x', labels: ['a'], runner_group_id: 1 }) });
  expect(roPost.status).toBe(403);
  expect(roPost.headers.get('x-accepted-github-permissions')).toBe('organization_self_hosted_runners=write');
  expect(((await roPost.json()) as { message: string }).message).toBe('Resource not accessible by personal access token');
  // Unauthenticated answers say nothing about scopes.
  expect((await fetch(`${url}/orgs/acme/actions/runners`)).headers.get('x-oauth-scopes')).toBeNull();
});
