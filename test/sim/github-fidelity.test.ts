// The fake GitHub's behaviours that real GitHub has and the first fakes hid (issue #17): runner names
// over 64 characters refused, the runner downloads list, a runner self-update on connect when the
// latest release is newer, a lagging runner list, `pushed_at` moved only by pushes, and a secondary
// rate limit by points per minute. Plain fetch, world clock under the test's control.
import { FakeGitHub } from '../../src/sim/github/server.js';
import { decodeJitConfig } from '../../src/sim/github/broker.js';

const TOKEN = 'ghp_fidelitytesttoken0123456789abcdefg';
let fake: FakeGitHub;
let url: string;
let t: number;

async function start(opts: ConstructorParameters<typeof FakeGitHub>[0] = {}): Promise<void> {
  t = Date.parse('2026-03-01T10:00:00Z');
  fake = new FakeGitHub({ org: 'acme', tokens: [TOKEN], now: () => t, ...opts });
  url = await fake.start();
}
afterEach(async () => {
  await fake?.stop();
});

const get = (path: string) => fetch(`${url}${path}`, { headers: { authorization: `token ${TOKEN}` } });
const jitPost = (name: string) =>
  fetch(`${url}/orgs/acme/actions/runners/generate-jitconfig`, {
    method: 'POST',
    headers: { authorization: `token ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name, labels: ['self-hosted', 'coder'], runner_group_id: 1 }),
  });
async function jit(name: string) {
  const res = await jitPost(name);
  expect(res.status).toBe(201);
  const body = (await res.json()) as { runner: { id: number }; encoded_jit_config: string };
  return { id: body.runner.id, secret: decodeJitConfig(body.encoded_jit_config).credentials.data.secret };
}
const broker = (method: string, path: string, secret: string, body?: unknown) =>
  fetch(`${url}/_sim/broker${path}`, {
    method,
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
async function listed(): Promise<Array<Record<string, unknown>>> {
  return ((await (await get('/orgs/acme/actions/runners')).json()) as { runners: Array<Record<string, unknown>> }).runners;
}

test('generate-jitconfig refuses a runner name over 64 characters with 422; 64 is fine', async () => {
  await start();
  const long = `tf-${'p'.repeat(62)}`; // 65
  const res = await jitPost(long);
  expect(res.status).toBe(422);
  expect(await res.json()).toMatchObject({ message: expect.stringContaining('64 characters'), status: '422' });
  expect(fake.runners()).toEqual([]);
  expect((await jitPost(long.slice(0, 64))).status).toBe(201);
});

test('runner downloads: every OS/architecture at the latest version, in the spec shape', async () => {
  await start({ latestRunnerVersion: '2.337.0' });
  const res = await get('/orgs/acme/actions/runners/downloads');
  expect(res.status).toBe(200);
  const list = (await res.json()) as Array<Record<string, string>>;
  expect(list).toContainEqual({
    os: 'osx',
    architecture: 'arm64',
    filename: 'actions-runner-osx-arm64-2.337.0.tar.gz',
    download_url: 'https://github.com/actions/runner/releases/download/v2.337.0/actions-runner-osx-arm64-2.337.0.tar.gz',
    sha256_checksum: expect.stringMatching(/^[0-9a-f]{64}$/),
  });
  expect(list.map((d) => `${d.os}-${d.architecture}`)).toEqual(expect.arrayContaining(['linux-x64', 'win-x64', 'osx-x64']));
});

test('an outdated runner is told to update, takes no job until it reconnects updated, and is offline in between', async () => {
  await start({ latestRunnerVersion: '2.337.0' });
  fake.addRepo('app');
  const { jobId } = fake.queueJob({ repo: 'app', labels: ['self-hosted', 'coder'] });
  const r = await jit('tf-coder-1');
  const s1 = await broker('POST', '/sessions', r.secret, { runnerId: r.id, version: '2.336.0' });
  expect(s1.status).toBe(201);
  const { sessionId } = (await s1.json()) as { sessionId: string };
  expect((await listed())[0]).toMatchObject({ status: 'online', version: '2.336.0', busy: false });
  // The first message is the refresh; the queued job is not assigned while it updates.
  const m1 = await broker('GET', `/sessions/${sessionId}/message?wait_ms=0`, r.secret);
  expect(await m1.json()).toEqual({ refresh: { version: '2.337.0' } });
  expect(fake.job(jobId).status).toBe('queued');
  expect((await broker('GET', `/sessions/${sessionId}/message?wait_ms=0`, r.secret)).status).toBe(204);
  // The listener exits to update: its session ends, the runner is offline but known to have connected.
  expect((await broker('DELETE', `/sessions/${sessionId}`, r.secret)).status).toBe(204);
  expect((await listed())[0]).toMatchObject({ status: 'offline', os: 'macos', version: '2.336.0', busy: false });
  // Restarted with the new version: online, and GitHub hands it the job.
  const s2 = await broker('POST', '/sessions', r.secret, { runnerId: r.id, version: '2.337.0' });
  expect(s2.status).toBe(201);
  const second = ((await s2.json()) as { sessionId: string }).sessionId;
  expect(fake.job(jobId)).toMatchObject({ status: 'in_progress', runnerName: 'tf-coder-1' });
  const m2 = await broker('GET', `/sessions/${second}/message?wait_ms=0`, r.secret);
  expect(await m2.json()).toMatchObject({ job: { id: jobId } });
  expect((await listed())[0]).toMatchObject({ status: 'online', version: '2.337.0', busy: true });
});

test('a runner at the latest version gets no refresh (the default: latest = the image pin)', async () => {
  await start();
  fake.addRepo('app');
  const { jobId } = fake.queueJob({ repo: 'app', labels: ['self-hosted', 'coder'] });
  const r = await jit('tf-coder-1');
  const s = await broker('POST', '/sessions', r.secret, { runnerId: r.id });
  const { sessionId } = (await s.json()) as { sessionId: string };
  const m = await broker('GET', `/sessions/${sessionId}/message?wait_ms=0`, r.secret);
  expect(await m.json()).toMatchObject({ job: { id: jobId } });
});

test('a lagging runner list shows each runner as it was that long ago; the true state acts at once', async () => {
  await start({ runnerListLagMs: 30_000 });
  fake.addRepo('app');
  const r = await jit('tf-coder-1');
  // Just created: not listed yet.
  expect(await listed()).toEqual([]);
  t += 30_000;
  expect(await listed()).toEqual([expect.objectContaining({ name: 'tf-coder-1', status: 'offline', version: '' })]);
  await broker('POST', '/sessions', r.secret, { runnerId: r.id });
  const { jobId } = fake.queueJob({ repo: 'app', labels: ['self-hosted', 'coder'] });
  // Connected and busy in truth, still offline and idle in the list.
  expect(fake.job(jobId).status).toBe('in_progress');
  expect((await listed())[0]).toMatchObject({ status: 'offline', busy: false });
  t += 10_000;
  fake.completeJob(jobId);
  t += 20_000;
  // 30 s after it connected: online and busy, though it is gone by now.
  expect((await listed())[0]).toMatchObject({ status: 'online', busy: true });
  t += 10_000;
  expect(await listed()).toEqual([]);

  fake.setRunnerListLag(0);
  await jit('tf-coder-2');
  expect((await listed()).map((x) => x.name)).toEqual(['tf-coder-2']);
});

test('pushed_at moves for push events only; the run carries its event', async () => {
  await start();
  fake.addRepo('app', { pushedAt: t - 86_400_000 });
  const before = fake.world.repos.get('acme/app')!.pushedAt;
  t += 1000;
  for (const event of ['issue_comment', 'workflow_dispatch', 'schedule', 'pull_request']) {
    fake.queueJob({ repo: 'app', labels: ['self-hosted', 'coder'], event });
  }
  expect(fake.world.repos.get('acme/app')!.pushedAt).toBe(before);
  const runs = (await (await get('/repos/acme/app/actions/runs')).json()) as { workflow_runs: Array<{ event: string }> };
  expect(runs.workflow_runs.map((r) => r.event).sort()).toEqual(['issue_comment', 'pull_request', 'schedule', 'workflow_dispatch']);
  fake.queueJob({ repo: 'app', labels: ['self-hosted', 'coder'] });
  expect(fake.world.repos.get('acme/app')!.pushedAt).toBe(t);
});

test('secondary limit by points: GET 1, POST 5 per route and minute; over it 403 with retry-after', async () => {
  await start({ secondaryPoints: { pointsPerMinute: 10 } });
  fake.addRepo('app');
  for (let i = 0; i < 10; i++) expect((await get('/repos/acme/app/actions/runs')).status).toBe(200);
  const refused = await get('/repos/acme/app/actions/runs');
  expect(refused.status).toBe(403);
  expect(refused.headers.get('retry-after')).toBe('60');
  expect(await refused.json()).toMatchObject({ message: expect.stringMatching(/secondary rate limit/), documentation_url: expect.stringContaining('secondary-rate-limits') });
  // Another route has its own budget: two POSTs (10 points) pass, the third is refused.
  expect((await jitPost('tf-a')).status).toBe(201);
  expect((await jitPost('tf-b')).status).toBe(201);
  expect((await jitPost('tf-c')).status).toBe(403);
  expect(fake.secondaryRefusalCount).toBe(2);
  // Once the minute has passed there is room again.
  t += 45_000;
  expect((await get('/repos/acme/app/actions/runs')).headers.get('retry-after')).toBe('15');
  t += 15_000;
  expect((await get('/repos/acme/app/actions/runs')).status).toBe(200);
});
