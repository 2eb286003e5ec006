// The fake GitHub's runner side (the "broker"): JIT config format, sessions, long-poll messages,
// GitHub-like assignment (oldest matching queued job, never a waiting one) and ephemeral removal.
import { FakeGitHub } from '../../src/sim/github/server.js';
import { decodeJitConfig } from '../../src/sim/github/broker.js';

const TOKEN = 'ghp_brokertesttoken0123456789abcdefghij';
let fake: FakeGitHub;
let url: string;
let t: number;

beforeEach(async () => {
  t = Date.parse('2026-03-01T10:00:00Z');
  fake = new FakeGitHub({ org: 'acme', tokens: [TOKEN], now: () => t });
  url = await fake.start();
});
afterEach(async () => {
  await fake.stop();
});

async function jit(name: string, labels: string[]) {
  const res = await fetch(`${url}/orgs/acme/actions/runners/generate-jitconfig`, {
    method: 'POST',
    headers: { authorization: `token ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name, labels, runner_group_id: 1 }),
  });
  expect(res.status).toBe(201);
  const body = (await res.json()) as { runner: { id: number }; encoded_jit_config: string };
  const cfg = decodeJitConfig(body.encoded_jit_config);
  return { id: body.runner.id, secret: cfg.credentials.data.secret, cfg, encoded: body.encoded_jit_config };
}

const brokerPost = (path: string, secret: string, body: unknown) =>
  fetch(`${url}/_sim/broker${path}`, { method: 'POST', headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
const message = (sessionId: string, secret: string, waitMs: number) =>
  fetch(`${url}/_sim/broker/sessions/${sessionId}/message?wait_ms=${waitMs}`, { headers: { authorization: `Bearer ${secret}` } });

async function connect(r: { id: number; secret: string }): Promise<string> {
  const res = await brokerPost('/sessions', r.secret, { runnerId: r.id });
  expect(res.status).toBe(201);
  return ((await res.json()) as { sessionId: string }).sessionId;
}

async function runnerJson(name: string) {
  const res = await fetch(`${url}/orgs/acme/actions/runners?name=${name}`, { headers: { authorization: `token ${TOKEN}` } });
  return ((await res.json()) as { runners: Array<Record<string, unknown>> }).runners[0];
}

test('JIT config: base64 JSON of base64 .runner and .credentials, serverUrl = base URL', async () => {
  const r = await jit('tf-coder-1', ['self-hosted', 'coder']);
  const outer = JSON.parse(Buffer.from(r.encoded, 'base64').toString('utf8')) as Record<string, string>;
  expect(Object.keys(outer).sort()).toEqual(['.credentials', '.runner']);
  expect(r.cfg.runner).toMatchObject({ agentId: r.id, agentName: 'tf-coder-1', poolId: 1, serverUrl: url });
  expect(r.cfg.credentials).toMatchObject({ scheme: 'OAuth', data: { clientId: expect.any(String), secret: expect.any(String) } });
});

test('session: runner goes online (os, version); a second session is a conflict; bad secret is 401', async () => {
  const r = await jit('tf-coder-1', ['self-hosted', 'coder']);
  expect(await runnerJson('tf-coder-1')).toMatchObject({ status: 'offline', os: 'unknown', version: '' });
  expect((await brokerPost('/sessions', 'wrong', { runnerId: r.id })).status).toBe(401);
  await connect(r);
  expect(await runnerJson('tf-coder-1')).toMatchObject({ status: 'online', os: 'macos', version: expect.any(String), busy: false });
  const again = await brokerPost('/sessions', r.secret, { runnerId: r.id });
  expect(again.status).toBe(409);
  expect(await again.json()).toMatchObject({ message: 'A session for this runner already exists.' });
});

test('assignment: the oldest queued job whose labels the runner has, case-insensitively; waiting jobs never', async () => {
  const dev = fake.queueJob({ repo: 'app', labels: ['self-hosted', 'developer'], name: 'dev' });
  t += 1000;
  const gated = fake.queueJob({ repo: 'app', labels: ['self-hosted', 'coder'], name: 'gated', status: 'waiting' });
  t += 1000;
  const older = fake.queueJob({ repo: 'lib', labels: ['self-hosted', 'Coder'], name: 'older' });
  t += 1000;
  const mine = fake.queueJob({ repo: 'web', labels: ['self-hosted', 'coder'], name: 'mine' });
  // The runner was made for `mine`, but GitHub hands it the oldest matching job.
  const r = await jit(`tf-coder-${mine.jobId}`, ['self-hosted', 'coder', 'tf-host-mini-a']);
  const session = await connect(r);
  const res = await message(session, r.secret, 1000);
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({ job: { id: older.jobId, name: 'older', repo: 'acme/lib', duration_ms: 1000 } });
  expect(fake.job(older.jobId)).toMatchObject({ status: 'in_progress', runnerName: `tf-coder-${mine.jobId}` });
  expect(fake.job(mine.jobId).status).toBe('queued');
  expect(fake.job(gated.jobId).status).toBe('waiting');
  expect(fake.job(dev.jobId).status).toBe('queued');
  expect(await runnerJson(`tf-coder-${mine.jobId}`)).toMatchObject({ busy: true, status: 'online' });
  const busyDelete = await fetch(`${url}/orgs/acme/actions/runners/${r.id}`, { method: 'DELETE', headers: { authorization: `token ${TOKEN}` } });
  expect(busyDelete.status).toBe(422);
  expect(((await busyDelete.json()) as { message: string }).message).toBe(`Bad request - Runner "tf-coder-${mine.jobId}" is still running a job`);

  // Approval makes the gated job queued; it is older than `mine`, so the next runner gets it.
  fake.approveJob(gated.jobId);
  const r2 = await jit('tf-coder-x', ['self-hosted', 'coder']);
  const s2 = await connect(r2);
  expect(((await (await message(s2, r2.secret, 100)).json()) as { job: { id: number } }).job.id).toBe(gated.jobId);
});

test('assignment respects the runner group: selected repositories, public repositories, selected workflows', async () => {
  fake.addRepo('pub', { private: false });
  fake.addRunnerGroup({ id: 7, name: 'lib-only', visibility: 'selected', selectedRepositories: ['lib'] });
  fake.addRunnerGroup({ id: 8, name: 'open', allowsPublicRepositories: true, restrictedToWorkflows: true, selectedWorkflows: ['acme/pub/.github/workflows/ci.yml@refs/heads/main'] });
  const pub = fake.queueJob({ repo: 'pub', labels: ['self-hosted', 'coder'] });
  t += 1000;
  const app = fake.queueJob({ repo: 'app', labels: ['self-hosted', 'coder'] });
  t += 1000;
  const lib = fake.queueJob({ repo: 'lib', labels: ['self-hosted', 'coder'] });
  const jitIn = async (name: string, group: number) => {
    const res = await fetch(`${url}/orgs/acme/actions/runners/generate-jitconfig`, {
      method: 'POST',
      headers: { authorization: `token ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name, labels: ['self-hosted', 'coder'], runner_group_id: group }),
    });
    const body = (await res.json()) as { runner: { id: number }; encoded_jit_config: string };
    return { id: body.runner.id, secret: decodeJitConfig(body.encoded_jit_config).credentials.data.secret };
  };
  const next = async (r: { id: number; secret: string }) => {
    const res = await message(await connect(r), r.secret, 50);
    return res.status === 200 ? ((await res.json()) as { job: { id: number } }).job.id : null;
  };
  // Oldest first, but the selected group only admits lib, and the Default group no public repository.
  expect(await next(await jitIn('in-7', 7))).toBe(lib.jobId);
  expect(await next(await jitIn('in-1', 1))).toBe(app.jobId);
  expect(fake.job(pub.jobId).status).toBe('queued');
  // Group 8 admits public repositories, and pub's workflow is the one it is restricted to.
  expect(await next(await jitIn('in-8', 8))).toBe(pub.jobId);
  fake.queueJob({ repo: 'app', labels: ['self-hosted', 'coder'] });
  expect(await next(await jitIn('in-8b', 8))).toBeNull();
});

test('long poll: 204 when idle, wakes as soon as a job is queued, job delivered once', async () => {
  const r = await jit('tf-coder-1', ['self-hosted', 'coder']);
  const session = await connect(r);
  expect((await message(session, r.secret, 50)).status).toBe(204);
  const pending = message(session, r.secret, 10_000);
  const t0 = Date.now();
  setTimeout(() => fake.queueJob({ repo: 'app', labels: ['self-hosted', 'coder'], durationMs: 5 }), 50);
  const res = await pending;
  expect(res.status).toBe(200);
  expect(Date.now() - t0).toBeLessThan(5000);
  expect(((await res.json()) as { job: { duration_ms: number } }).job.duration_ms).toBe(5);
  expect((await message(session, r.secret, 20)).status).toBe(204);
});

test('complete: job completed with the result, runner removed (ephemeral), history recorded', async () => {
  const q = fake.queueJob({ repo: 'app', labels: ['self-hosted', 'coder'], name: 'build' });
  const r = await jit('tf-coder-1', ['self-hosted', 'coder']);
  const session = await connect(r);
  const job = ((await (await message(session, r.secret, 100)).json()) as { job: { id: number } }).job;
  t += 30_000;
  expect((await brokerPost(`/jobs/${job.id}/complete`, 'wrong', { result: 'failed' })).status).toBe(401);
  const done = await brokerPost(`/jobs/${job.id}/complete`, r.secret, { result: 'failed' });
  expect(done.status).toBe(200);
  expect(fake.job(q.jobId)).toMatchObject({ status: 'completed', conclusion: 'failure' });
  expect(fake.jobHistory(q.jobId)).toEqual([
    { at: Date.parse('2026-03-01T10:00:00Z'), status: 'queued' },
    { at: Date.parse('2026-03-01T10:00:00Z'), status: 'in_progress', runnerId: r.id, runnerName: 'tf-coder-1' },
    { at: Date.parse('2026-03-01T10:00:30Z'), status: 'completed', conclusion: 'failure', runnerId: r.id, runnerName: 'tf-coder-1' },
  ]);
  expect(fake.runners()).toEqual([
    expect.objectContaining({ name: 'tf-coder-1', deletedBy: 'ephemeral', deletedAt: Date.parse('2026-03-01T10:00:30Z'), everConnected: true, jobId: q.jobId }),
  ]);
  expect(await runnerJson('tf-coder-1')).toBeUndefined();
  const after = await message(session, r.secret, 100);
  expect(after.status).toBe(404);
  expect(await after.json()).toMatchObject({ message: 'runner no longer exists' });
});

test('deleting an idle connected runner answers its pending long poll with 404; a new session is 404', async () => {
  const r = await jit('tf-coder-1', ['self-hosted', 'coder']);
  const session = await connect(r);
  const pending = message(session, r.secret, 10_000);
  await new Promise((resolve) => setTimeout(resolve, 30));
  const del = await fetch(`${url}/orgs/acme/actions/runners/${r.id}`, { method: 'DELETE', headers: { authorization: `token ${TOKEN}` } });
  expect(del.status).toBe(204);
  const res = await pending;
  expect(res.status).toBe(404);
  expect((await brokerPost('/sessions', r.secret, { runnerId: r.id })).status).toBe(404);
  expect(fake.runners()[0]).toMatchObject({ deletedBy: 'api', everConnected: true });
});
