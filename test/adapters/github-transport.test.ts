// The GitHub adapter's HTTP transport (node:http behind Octokit's `request.fetch`) against a
// real HTTP server: what Octokit reads of a response, redirects, bodies of 304s, and a server that
// accepts a connection but never answers (the tick must not hang: the attempt fails, read as unknown).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Octokit } from '@octokit/core';
import { githubFetch } from '../../src/adapters/github-transport.js';

let server: Server;
let base: string;
const hung: ServerResponse[] = [];

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.url === '/moved') return res.writeHead(301, { location: `${base}/repos/acme/new-name` }).end();
    if (req.url === '/repos/acme/new-name') return res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', etag: 'W/"1"' }).end('{"name":"new-name"}');
    if (req.url === '/cached') return res.writeHead(304, { etag: 'W/"1"', 'x-ratelimit-remaining': '4999' }).end();
    if (req.url === '/hang') return void hung.push(res);
    if (req.url === '/cut') {
      // Promises 100 bytes, sends 10, then drops the connection: a body cut off half-way.
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"total_co');
      return void setTimeout(() => res.socket?.destroy(), 50);
    }
    if (req.url === '/loop') return res.writeHead(302, { location: `${base}/loop` }).end();
    if (req.url === '/post-moved') return res.writeHead(302, { location: '/method' }).end();
    if (req.url === '/method') return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ method: req.method, length: req.headers['content-length'] ?? null }));
    if (req.url === '/echo') {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      return req.on('end', () => res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ method: req.method, body: JSON.parse(body) as unknown })));
    }
    res.writeHead(200, [['content-type', 'application/json'], ['x-many', 'a'], ['x-many', 'b']]).end('{"ok":true}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(async () => {
  for (const res of hung) res.destroy();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const octokit = (timeoutMs = 5_000) => new Octokit({ baseUrl: base, request: { fetch: githubFetch(timeoutMs) } });

test('a 200: status, parsed JSON, lower-cased headers, repeated ones joined', async () => {
  const res = await octokit().request('GET /anything');
  expect(res.status).toBe(200);
  expect(res.data).toEqual({ ok: true });
  expect(res.headers['x-many']).toBe('a, b');
  expect(res.headers['content-type']).toBe('application/json');
});

test('a 304 is Octokit\'s "Not modified" error with the response headers, and the next request still gets through', async () => {
  await expect(octokit().request('GET /cached', { headers: { 'if-none-match': 'W/"1"' } })).rejects.toMatchObject({
    status: 304,
    response: { headers: expect.objectContaining({ etag: 'W/"1"', 'x-ratelimit-remaining': '4999' }) },
  });
  // The 304's connection went back to the pool in a usable state.
  for (let i = 0; i < 3; i++) await expect(octokit().request('GET /cached')).rejects.toMatchObject({ status: 304 });
  expect((await octokit().request('GET /anything')).data).toEqual({ ok: true });
});

test('a redirect (a renamed repository) is followed, as the global fetch does', async () => {
  const res = await octokit().request('GET /moved');
  expect(res.status).toBe(200);
  expect(res.data).toEqual({ name: 'new-name' });
});

test('a POST sends its JSON body', async () => {
  const res = await octokit().request('POST /echo', { name: 'tf-coder-1', labels: ['a'] });
  expect(res.status).toBe(201);
  expect(res.data).toEqual({ method: 'POST', body: { name: 'tf-coder-1', labels: ['a'] } });
});

test('a server that never answers: the attempt fails after the timeout (status 500 to Octokit), it does not hang', async () => {
  const started = Date.now();
  const err = (await octokit(300).request('GET /hang').catch((e: unknown) => e)) as { status?: number; message?: string };
  expect(err.status).toBe(500);
  expect(err.message).toMatch(/timeout/i);
  expect(Date.now() - started).toBeLessThan(20_000);
});

/** A throwaway server on loopback for one test: its URL, how many connections it accepted, and its close. */
async function extraServer(handler: (req: IncomingMessage, res: ServerResponse) => void, keepAliveTimeoutMs?: number) {
  const s = createServer(handler);
  if (keepAliveTimeoutMs !== undefined) s.keepAliveTimeout = keepAliveTimeoutMs;
  const counter = { connections: 0 };
  s.on('connection', () => counter.connections++);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(s.address() as { port: number }).port}`,
    counter,
    close: async () => {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    },
  };
}

const emptyJson = (_req: IncomingMessage, res: ServerResponse) => void res.writeHead(200, { 'content-type': 'application/json' }).end('{}');

// The gap between ticks: an idle connection is reused across it unless the server said it would
// close it sooner. keepAliveTimeout 0 sends no `Keep-Alive: timeout=` hint (a server that sends
// none); 1,000 sends `timeout=1` and closes idle connections after 1 s, so the next request must
// open a new connection instead of failing on the closed one.
test.each([
  { when: 'the server gives no keep-alive hint: an idle connection outlives a 5 s gap', keepAliveMs: 0, gapMs: 5_000, connections: 1 },
  { when: "the server's hint (1 s) is shorter than our idle time: the next request opens a new connection", keepAliveMs: 1_000, gapMs: 1_500, connections: 2 },
])('$when', async ({ keepAliveMs, gapMs, connections }) => {
  const server = await extraServer(emptyJson, keepAliveMs);
  try {
    const client = new Octokit({ baseUrl: server.url, request: { fetch: githubFetch(5_000) } });
    await client.request('GET /a');
    await new Promise((r) => setTimeout(r, gapMs));
    expect((await client.request('GET /b')).status).toBe(200);
    expect(server.counter.connections).toBe(connections);
  } finally {
    await server.close();
  }
});

test('a body cut off half-way is an error, never a short body read as whole', async () => {
  // Octokit's own wrapper turns a body it cannot read into "" (getResponseData catches), so the
  // transport reads the body before it answers: the error comes from fetch itself, and Octokit
  // reports it as status 500 (unknown), for writes and the token exchange too.
  await expect(githubFetch(5_000)(`${base}/cut`)).rejects.toThrow(/cut off/);
  await expect(octokit().request('GET /cut')).rejects.toMatchObject({ status: 500, message: expect.stringMatching(/cut off/) });
});

test('a redirect loop fails after 5 redirects instead of looping forever', async () => {
  const err = (await octokit().request('GET /loop').catch((e: unknown) => e)) as { message?: string };
  expect(err).toBeInstanceOf(Error);
  expect(err.message).toMatch(/redirects/);
});

test('a redirect to another origin does not carry the token; one within the API keeps it', async () => {
  const seen: Array<string | undefined> = [];
  const other = await extraServer((req, res) => {
    seen.push(req.headers.authorization);
    emptyJson(req, res);
  });
  const api = await extraServer((req, res) => {
    if (req.url === '/away') return res.writeHead(302, { location: `${other.url}/landing` }).end();
    if (req.url === '/here') return res.writeHead(301, { location: '/landed' }).end();
    seen.push(req.headers.authorization);
    emptyJson(req, res);
  });
  try {
    const send = githubFetch(5_000);
    const headers = { authorization: 'token ghp_secret0123456789', accept: 'application/json' };
    expect((await send(`${api.url}/away`, { headers })).status).toBe(200);
    expect((await send(`${api.url}/here`, { headers })).status).toBe(200);
    expect(seen).toEqual([undefined, 'token ghp_secret0123456789']);
  } finally {
    await other.close();
    await api.close();
  }
});

test('a POST answered 302 is followed with a GET without the body or its headers (it does not wait for a body that never comes)', async () => {
  const body = JSON.stringify({ name: 'tf-coder-1' });
  const res = await githubFetch(2_000)(`${base}/post-moved`, { method: 'POST', body, headers: { 'content-type': 'application/json', 'content-length': String(body.length) } });
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({ method: 'GET', length: null });
});
