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

test('an idle connection outlives a gap between ticks when the server gives no keep-alive hint', async () => {
  const quiet = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
  quiet.keepAliveTimeout = 0; // no `Keep-Alive: timeout=` hint, as from a server that does not send one
  let connections = 0;
  quiet.on('connection', () => connections++);
  await new Promise<void>((r) => quiet.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(quiet.address() as { port: number }).port}`;
  try {
    const client = new Octokit({ baseUrl: url, request: { fetch: githubFetch(5_000) } });
    await client.request('GET /a');
    await new Promise((r) => setTimeout(r, 5_000));
    await client.request('GET /b');
    expect(connections).toBe(1);
  } finally {
    quiet.closeAllConnections();
    await new Promise((r) => quiet.close(r));
  }
});

test('a body cut off half-way is an error, never a short body read as whole', async () => {
  // Through the transport itself: Octokit's own wrapper turns an unreadable body into "" (the
  // adapter's reads parse bodies themselves, so they see this error).
  const res = await githubFetch(5_000)(`${base}/cut`);
  expect(res.status).toBe(200);
  await expect(res.text()).rejects.toThrow(/cut off/);
});

test('a redirect loop fails after 5 redirects instead of looping forever', async () => {
  const err = (await octokit().request('GET /loop').catch((e: unknown) => e)) as { message?: string };
  expect(err).toBeInstanceOf(Error);
  expect(err.message).toMatch(/redirects/);
});

test("a server's keep-alive hint shorter than our idle time: a request after the hint opens a new connection instead of failing on the closed one", async () => {
  const brief = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
  brief.keepAliveTimeout = 1_000; // answers carry `Keep-Alive: timeout=1` and the server closes idle connections after 1 s
  let connections = 0;
  brief.on('connection', () => connections++);
  await new Promise<void>((r) => brief.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(brief.address() as { port: number }).port}`;
  try {
    const client = new Octokit({ baseUrl: url, request: { fetch: githubFetch(5_000) } });
    await client.request('GET /a');
    await new Promise((r) => setTimeout(r, 1_500));
    expect((await client.request('GET /b')).status).toBe(200);
    expect(connections).toBe(2);
  } finally {
    brief.closeAllConnections();
    await new Promise((r) => brief.close(r));
  }
});

test('a redirect to another origin does not carry the token; one within the API keeps it', async () => {
  const seen: Array<string | undefined> = [];
  const other = createServer((req, res) => {
    seen.push(req.headers.authorization);
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
  await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
  const elsewhere = `http://127.0.0.1:${(other.address() as { port: number }).port}`;
  const redirecting = createServer((req, res) => {
    if (req.url === '/away') return res.writeHead(302, { location: `${elsewhere}/landing` }).end();
    if (req.url === '/here') return res.writeHead(301, { location: '/landed' }).end();
    seen.push(req.headers.authorization);
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
  await new Promise<void>((r) => redirecting.listen(0, '127.0.0.1', r));
  const api = `http://127.0.0.1:${(redirecting.address() as { port: number }).port}`;
  try {
    const send = githubFetch(5_000);
    const headers = { authorization: 'token ghp_secret0123456789', accept: 'application/json' };
    expect((await send(`${api}/away`, { headers })).status).toBe(200);
    expect((await send(`${api}/here`, { headers })).status).toBe(200);
    expect(seen).toEqual([undefined, 'token ghp_secret0123456789']);
  } finally {
    for (const s of [other, redirecting]) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  }
});

test('a POST answered 302 is followed with a GET without the body or its headers (it does not wait for a body that never comes)', async () => {
  const body = JSON.stringify({ name: 'tf-coder-1' });
  const res = await githubFetch(2_000)(`${base}/post-moved`, { method: 'POST', body, headers: { 'content-type': 'application/json', 'content-length': String(body.length) } });
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({ method: 'GET', length: null });
});
