// Runners through the adapter: JIT creation, the 409 claim conflict with its holder, deletion
// results, the everConnected mapping, GitHub Enterprise Server base URLs, and that neither the
// token nor a JIT config ever reaches a log line.
import { harness, TOKEN, type Harness } from './github-helpers.js';
import { REDACTED } from '../../src/secrets/redact.js';
import { decodeJitConfig } from '../../src/sim/github/broker.js';

let h: Harness;
afterEach(async () => {
  await h?.fake.stop();
});

const LABELS = ['self-hosted', 'coder', 'tf-host-mini-a'];
const noThrottle = () => ({ throttle: { enabled: false } });

test('createJitRunner: created, with a JIT config pointing at the server', async () => {
  h = await harness({}, noThrottle());
  const res = await h.adapter.createJitRunner({ name: 'tf-coder-42', labels: LABELS, runnerGroupId: 1 });
  expect(res.kind).toBe('created');
  if (res.kind !== 'created') return;
  expect(res.jit.runner).toMatchObject({ name: 'tf-coder-42', labels: LABELS, status: 'offline', busy: false, everConnected: false });
  const decoded = decodeJitConfig(res.jit.encodedJitConfig);
  expect(decoded.runner).toMatchObject({ agentId: res.jit.runner.id, agentName: 'tf-coder-42', serverUrl: h.url });
  expect(decoded.credentials.scheme).toBe('OAuth');
  expect(h.secrets.redactText(`x ${res.jit.encodedJitConfig} y`)).toBe(`x ${REDACTED} y`);
});

test('createJitRunner: 409 returns the holder, one POST and one lookup, no loop', async () => {
  h = await harness({}, noThrottle());
  const other = h.make(noThrottle());
  const first = await other.createJitRunner({ name: 'tf-coder-7', labels: ['self-hosted', 'coder', 'tf-host-mini-b'], runnerGroupId: 1 });
  expect(first.kind).toBe('created');
  h.fake.resetCounters();
  const res = await h.adapter.createJitRunner({ name: 'tf-coder-7', labels: LABELS, runnerGroupId: 1 });
  expect(res).toEqual({
    kind: 'conflict',
    holder: expect.objectContaining({ name: 'tf-coder-7', labels: ['self-hosted', 'coder', 'tf-host-mini-b'] }),
  });
  expect(h.fake.requestCounts()).toEqual({
    'POST /orgs/{org}/actions/runners/generate-jitconfig': 1,
    'GET /orgs/{org}/actions/runners': 1,
  });
});

test('createJitRunner: a 5xx is not retried (a retried POST could come back as a false 409)', async () => {
  h = await harness({}, noThrottle());
  h.fake.failNext(1, 502);
  await expect(h.adapter.createJitRunner({ name: 'tf-coder-8', labels: LABELS, runnerGroupId: 1 })).rejects.toMatchObject({ status: 502 });
  expect(h.fake.requestCount('POST /orgs/{org}/actions/runners/generate-jitconfig')).toBe(1);
});

test('createJitRunner: unknown runner group is 404 and throws', async () => {
  h = await harness({}, noThrottle());
  await expect(h.adapter.createJitRunner({ name: 'tf-coder-9', labels: LABELS, runnerGroupId: 99999 })).rejects.toMatchObject({ status: 404 });
});

test('deleteRunner: deleted, not-found, busy', async () => {
  h = await harness({}, noThrottle());
  const a = await h.adapter.createJitRunner({ name: 'tf-coder-1', labels: LABELS, runnerGroupId: 1 });
  const b = await h.adapter.createJitRunner({ name: 'tf-coder-2', labels: LABELS, runnerGroupId: 1 });
  if (a.kind !== 'created' || b.kind !== 'created') throw new Error('setup');
  expect(await h.adapter.deleteRunner(a.jit.runner.id)).toBe('deleted');
  expect(await h.adapter.deleteRunner(a.jit.runner.id)).toBe('not-found');
  expect(await h.adapter.deleteRunner(424242)).toBe('not-found');
  // b connects and takes a job: busy.
  h.fake.addRepo('app');
  h.fake.queueJob({ repo: 'app', labels: ['self-hosted', 'coder'] });
  const { credentials } = decodeJitConfig(b.jit.encodedJitConfig);
  const s = await fetch(`${h.url}/_sim/broker/sessions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${credentials.data.secret}`, 'content-type': 'application/json' },
    body: JSON.stringify({ runnerId: b.jit.runner.id }),
  });
  expect(s.status).toBe(201);
  expect(await h.adapter.deleteRunner(b.jit.runner.id)).toBe('busy');
  const runners = await h.adapter.listRunners();
  expect(runners).toEqual([{ id: b.jit.runner.id, name: 'tf-coder-2', labels: LABELS, status: 'online', busy: true, everConnected: true }]);
});

test('a registered runner that never connected (version "", os unknown) is not everConnected', async () => {
  h = await harness({}, noThrottle());
  const res = await h.adapter.createJitRunner({ name: 'tf-coder-5', labels: LABELS, runnerGroupId: 1 });
  if (res.kind !== 'created') throw new Error('setup');
  // What the fake lists for it: the shape most likely to fool a client (audit W1).
  const raw = (await (await fetch(`${h.url}/orgs/acme/actions/runners`, { headers: { authorization: `token ${TOKEN}` } })).json()) as { runners: Array<Record<string, unknown>> };
  expect(raw.runners[0]).toMatchObject({ name: 'tf-coder-5', os: 'unknown', version: '', status: 'offline', busy: false });
  expect(await h.adapter.listRunners()).toEqual([expect.objectContaining({ name: 'tf-coder-5', status: 'offline', everConnected: false })]);

  // Once it connects it reports its version and counts as connected.
  const { credentials } = decodeJitConfig(res.jit.encodedJitConfig);
  const s = await fetch(`${h.url}/_sim/broker/sessions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${credentials.data.secret}`, 'content-type': 'application/json' },
    body: JSON.stringify({ runnerId: res.jit.runner.id }),
  });
  expect(s.status).toBe(201);
  expect(await h.adapter.listRunners()).toEqual([expect.objectContaining({ name: 'tf-coder-5', status: 'online', everConnected: true })]);
});

test('deleteRunner: any 422 means busy, whatever its message', async () => {
  h = await harness({}, noThrottle());
  const res = await h.adapter.createJitRunner({ name: 'tf-coder-6', labels: LABELS, runnerGroupId: 1 });
  if (res.kind !== 'created') throw new Error('setup');
  h.fake.failNext(1, 422); // a 422 whose text says nothing about "busy"
  expect(await h.adapter.deleteRunner(res.jit.runner.id)).toBe('busy');
  expect(h.entries.some((e) => e.msg === 'github runner not deleted: busy')).toBe(true);
});

test('GitHub Enterprise Server: everything under /api/v3', async () => {
  h = await harness({ pathPrefix: '/api/v3' }, noThrottle());
  expect(h.url).toMatch(/\/api\/v3$/);
  h.fake.addRepos(120);
  const { jobId } = h.fake.queueJob({ repo: 'repo-0003', labels: ['self-hosted', 'coder'] });
  const demand = await h.adapter.listJobs();
  expect(demand.jobs.map((j) => j.id)).toEqual([jobId]);
  expect(demand.stats.repositories).toBe(120);
  expect((await h.adapter.getJob('acme/repo-0003', jobId)).status).toBe('queued');
  const res = await h.adapter.createJitRunner({ name: 'tf-coder-5', labels: LABELS, runnerGroupId: 1 });
  expect(res.kind).toBe('created');
  expect(await h.adapter.listRunners()).toHaveLength(1);
  // Nothing reached the server outside the prefix.
  expect(Object.keys(h.fake.requestCounts()).every((k) => k.includes('{') || k.includes('/_sim/'))).toBe(true);
});

test('the token and JIT configs never appear in log lines, even on failures', async () => {
  h = await harness({}, noThrottle());
  h.fake.addRepos(2);
  h.fake.queueJob({ repo: 'repo-0001', labels: ['self-hosted', 'coder'] });
  const created = await h.adapter.createJitRunner({ name: 'tf-coder-3', labels: LABELS, runnerGroupId: 1 });
  if (created.kind !== 'created') throw new Error('setup');
  await h.adapter.createJitRunner({ name: 'tf-coder-3', labels: LABELS, runnerGroupId: 1 });
  await h.adapter.listJobs();
  h.fake.setOutage(true);
  await expect(h.adapter.listJobs()).rejects.toBeDefined();
  await expect(h.adapter.createJitRunner({ name: 'tf-coder-4', labels: LABELS, runnerGroupId: 1 })).rejects.toBeDefined();
  h.fake.setOutage(false);
  const bad = h.make({ auth: { kind: 'token', token: 'ghp_badbadbadbadbadbadbadbadbad123' }, throttle: { enabled: false } });
  await expect(bad.listRunners()).rejects.toBeDefined();

  expect(h.entries.length).toBeGreaterThan(3);
  const text = JSON.stringify(h.entries);
  expect(text).not.toContain(TOKEN);
  expect(text).not.toContain(created.jit.encodedJitConfig);
  expect(text).not.toContain(decodeJitConfig(created.jit.encodedJitConfig).credentials.data.secret);
  expect(text).not.toContain('ghp_badbad');
  expect(h.secrets.redactText(TOKEN)).toBe(REDACTED);
});
