// The fake GitHub as a corporate network sees GitHub (issue #31): ETags that depend on the token,
// compressed bodies when the client offers an encoding, and an API served over TLS with a
// certificate from a private CA, at a host name only a proxy knows, with the runners' broker
// listening apart. Raw node:http(s) clients, so nothing decodes or resolves on the test's behalf.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { FakeGitHub } from '../../src/sim/github/server.js';
import { decodeJitConfig } from '../../src/sim/github/broker.js';
import { makePrivateCa } from '../net/private-ca.js';

const A = 'ghp_networktesttokenA0123456789abcdefg';
const B = 'ghp_networktesttokenB0123456789abcdefg';
let fake: FakeGitHub;
afterEach(async () => {
  await fake?.stop();
});

/** A `lookup` that resolves every name to `address` (Node asks for all addresses, or for one). */
function lookupTo(address: string) {
  return ((_host: string, opts: { all?: boolean }, cb: (err: null, a: unknown, f?: number) => void) => {
    if (opts?.all) cb(null, [{ address, family: 4 }]);
    else cb(null, address, 4);
  }) as unknown as LookupFunction;
}

interface Answer { status: number; headers: IncomingMessage['headers']; body: Buffer }
function get(url: string, headers: Record<string, string>, extra: { ca?: string; lookupTo?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const send = u.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(u, {
      headers,
      ...(extra.ca ? { ca: extra.ca } : {}),
      // Stands in for the proxy's resolver: only this client knows where the name lives.
      ...(extra.lookupTo ? { lookup: lookupTo(extra.lookupTo) } : {}),
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('ETags are token-specific: the same list has a different ETag per token, and one token\'s ETag gets the other a 200', async () => {
  fake = new FakeGitHub({ org: 'acme', tokens: [A, B] });
  const url = `${await fake.start()}/orgs/acme/actions/runners`;
  const a = await get(url, { authorization: `token ${A}` });
  const b = await get(url, { authorization: `token ${B}` });
  expect(a.body.toString()).toBe(b.body.toString());
  expect(a.headers.etag).not.toBe(b.headers.etag);
  expect((await get(url, { authorization: `token ${A}`, 'if-none-match': a.headers.etag! })).status).toBe(304);
  expect((await get(url, { authorization: `token ${B}`, 'if-none-match': a.headers.etag! })).status).toBe(200);
});

test('a body is gzip-encoded when the client offers gzip, identity when it offers nothing', async () => {
  fake = new FakeGitHub({ org: 'acme', tokens: [A] });
  fake.addRepos(['app']);
  const url = `${await fake.start()}/orgs/acme/repos`;
  const plain = await get(url, { authorization: `token ${A}` });
  const zipped = await get(url, { authorization: `token ${A}`, 'accept-encoding': 'gzip, br' });
  expect(plain.headers['content-encoding']).toBeUndefined();
  expect(zipped.headers['content-encoding']).toBe('gzip');
  expect(gunzipSync(zipped.body).toString()).toBe(plain.body.toString());
});

test('over TLS at a name only a proxy knows: the private CA is needed, the API answers, the broker listens apart over plain HTTP and serves broker paths only', async () => {
  const ca = makePrivateCa(['github.sim.test']);
  fake = new FakeGitHub({ org: 'acme', tokens: [A], tls: { key: ca.key, cert: ca.cert }, hostname: 'github.sim.test' });
  const api = await fake.start();
  expect(api).toMatch(/^https:\/\/github\.sim\.test:\d+$/);
  const auth = { authorization: `token ${A}`, 'content-type': 'application/json' };
  await expect(get(`${api}/orgs/acme/actions/runners`, auth, { lookupTo: '127.0.0.1' })).rejects.toThrow(/certificate/);
  expect((await get(`${api}/orgs/acme/actions/runners`, auth, { lookupTo: '127.0.0.1', ca: ca.caPem })).status).toBe(200);

  // The JIT config names the broker's own listener; it refuses API paths.
  const claim = await new Promise<Answer>((resolve, reject) => {
    const req = httpsRequest(new URL(`${api}/orgs/acme/actions/runners/generate-jitconfig`), { method: 'POST', headers: auth, ca: ca.caPem, lookup: lookupTo('127.0.0.1') }, (r) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => resolve({ status: r.statusCode ?? 0, headers: r.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(JSON.stringify({ name: 'tf-coder-2', labels: ['self-hosted', 'coder'], runner_group_id: 1 }));
  });
  expect(claim.status).toBe(201);
  const serverUrl = decodeJitConfig((JSON.parse(claim.body.toString()) as { encoded_jit_config: string }).encoded_jit_config).runner.serverUrl;
  expect(serverUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  expect((await get(`${serverUrl}/orgs/acme/actions/runners`, { authorization: `token ${A}` })).status).toBe(404);
});
