// The transport on a corporate network: a proxy named by the environment (either case, NO_PROXY
// honoured), TLS to a server signed by a private CA trusted through NODE_EXTRA_CA_CERTS, compressed
// answers, a cap on body size and one deadline per request. Real servers on loopback; the proxied
// TLS case runs the built transport (dist/) in a child process, because Node reads
// NODE_EXTRA_CA_CERTS only at process start.
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { Octokit } from '@octokit/core';
import { createProxy } from 'proxy';
import { PACKAGE_ROOT } from '../../src/config/package.js';
import { githubFetch, MAX_BODY_BYTES } from '../../src/adapters/github-transport.js';
import { GitHubAdapter } from '../../src/adapters/github.js';
import { memoryLogger } from '../../src/core/logger.js';
import { Secrets } from '../../src/secrets/redact.js';
import { FakeGitHub } from '../../src/sim/github/server.js';
import { makePrivateCa } from '../net/private-ca.js';
import { startConnectProxy } from '../net/connect-proxy.js';

const execFileP = promisify(execFile);
const BODY = JSON.stringify({ total_count: 1, workflow_runs: [{ id: 7, status: 'queued' }] });
const seen: Array<{ url: string; acceptEncoding: string | undefined }> = [];
const trickling: ServerResponse[] = [];
let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    seen.push({ url: req.url ?? '', acceptEncoding: req.headers['accept-encoding'] });
    const json = { 'content-type': 'application/json; charset=utf-8' };
    if (req.url === '/gzip') return res.writeHead(200, { ...json, 'content-encoding': 'gzip' }).end(gzipSync(BODY));
    if (req.url === '/br') return res.writeHead(200, { ...json, 'content-encoding': 'br' }).end(brotliCompressSync(BODY));
    if (req.url === '/huge-declared') return res.writeHead(200, { ...json, 'content-length': String(MAX_BODY_BYTES + 1) }).end();
    if (req.url === '/huge-chunked') {
      res.writeHead(200, json);
      const chunk = Buffer.alloc(1024 * 1024, 0x20);
      let sent = 0;
      const more = () => {
        while (sent <= MAX_BODY_BYTES + chunk.length && !res.destroyed) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', more);
        }
        res.end();
      };
      return more();
    }
    // 64 MB of spaces compress to ~64 KB: small on the wire, over the cap once decoded.
    if (req.url === '/bomb') return res.writeHead(200, { ...json, 'content-encoding': 'gzip' }).end(gzipSync(Buffer.alloc(2 * MAX_BODY_BYTES, 0x20)));
    if (req.url === '/trickle') {
      // A byte every 50 ms, forever: never idle long enough for a per-chunk timeout.
      res.writeHead(200, json);
      trickling.push(res);
      const timer = setInterval(() => (res.destroyed ? clearInterval(timer) : res.write(' ')), 50);
      return undefined;
    }
    res.writeHead(200, json).end(BODY);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(async () => {
  for (const r of trickling) r.destroy();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const octokit = (timeoutMs = 10_000) => new Octokit({ baseUrl: base, request: { fetch: githubFetch(timeoutMs) } });

test.each(['gzip', 'br'])('a %s answer is decoded; every request offers gzip and br', async (coding) => {
  const res = await octokit().request(`GET /${coding}`);
  expect(res.data).toEqual(JSON.parse(BODY));
  expect(res.headers['content-encoding']).toBeUndefined();
  expect(seen.filter((s) => s.url === `/${coding}`).map((s) => s.acceptEncoding)).toEqual(['gzip, br']);
});

test.each([
  { what: 'a declared content-length over the cap', path: '/huge-declared' },
  { what: 'a chunked body that grows past the cap', path: '/huge-chunked' },
  { what: 'a small gzip body that decodes past the cap', path: '/bomb' },
])('$what is an error (status 500 to Octokit), never buffered whole', async ({ path }) => {
  const err = (await octokit().request(`GET ${path}`).catch((e: unknown) => e)) as { status?: number; message?: string };
  expect(err.status).toBe(500);
  expect(err.message).toMatch(/larger than 32 MB/);
});

test('one deadline per request: a body that trickles in forever fails at the deadline', async () => {
  const err = (await octokit(600).request('GET /trickle').catch((e: unknown) => e)) as { status?: number; message?: string };
  expect(err.status).toBe(500);
  expect(err.message).toMatch(/timeout/i);
});

describe('HTTP_PROXY / http_proxy and NO_PROXY, read per request', () => {
  const saved = { ...process.env };
  let proxied: string[];
  let proxy: Server;
  let proxyUrl: string;
  beforeAll(async () => {
    proxied = [];
    proxy = createProxy(createServer());
    proxy.on('request', (req: IncomingMessage) => proxied.push(req.url ?? ''));
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    proxyUrl = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`;
  });
  afterEach(() => {
    for (const k of ['HTTP_PROXY', 'http_proxy', 'NO_PROXY', 'no_proxy']) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  });
  afterAll(async () => {
    proxy.closeAllConnections();
    await new Promise((r) => proxy.close(r));
  });

  test.each(['HTTP_PROXY', 'http_proxy'])('%s set: the request goes through the proxy', async (name) => {
    process.env[name] = proxyUrl;
    delete process.env.NO_PROXY;
    delete process.env.no_proxy;
    const before = proxied.length;
    expect((await octokit().request('GET /via-proxy')).data).toEqual(JSON.parse(BODY));
    expect(proxied.slice(before)).toEqual([`${base}/via-proxy`]);
  });

  test('a GitHub App: the token exchange goes through the same proxy as every other call (it used the global fetch, which ignores HTTP_PROXY)', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
    const fake = new FakeGitHub({ org: 'acme', app: { appId: 1234, installationId: 99, publicKey } });
    const api = await fake.start();
    try {
      process.env.HTTP_PROXY = proxyUrl;
      delete process.env.NO_PROXY;
      delete process.env.no_proxy;
      const before = proxied.length;
      const adapter = new GitHubAdapter({ apiUrl: api, org: 'acme', auth: { kind: 'app', appId: 1234, installationId: 99, privateKey }, repositories: [], logger: memoryLogger(), secrets: new Secrets() });
      await adapter.listRunners();
      const through = proxied.slice(before);
      expect(through).toContain(`${api}/app/installations/99/access_tokens`);
      expect(through).toContain(`${api}/orgs/acme/actions/runners?per_page=100`);
    } finally {
      await fake.stop();
    }
  });

  test('NO_PROXY naming the host: the request goes direct', async () => {
    process.env.HTTP_PROXY = proxyUrl;
    process.env.NO_PROXY = 'example.com,127.0.0.1';
    const before = proxied.length;
    expect((await octokit().request('GET /direct')).data).toEqual(JSON.parse(BODY));
    expect(proxied.length).toBe(before);
  });
});

describe('HTTPS through a CONNECT proxy to a server signed by a private CA', () => {
  const NAME = 'github.sim.test';
  const ca = makePrivateCa([NAME]);
  const dir = mkdtempSync(join(tmpdir(), 'tf-transport-tls-'));
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, ca.caPem);
  const tls = createHttpsServer({ key: ca.key, cert: ca.cert }, (_req, res) => res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' }).end(gzipSync(BODY)));
  let port: number;
  let proxy: Awaited<ReturnType<typeof startConnectProxy>>;
  beforeAll(async () => {
    await new Promise<void>((r) => tls.listen(0, '127.0.0.1', r));
    port = (tls.address() as { port: number }).port;
    proxy = await startConnectProxy({ [NAME]: '127.0.0.1' });
  });
  afterAll(async () => {
    await proxy.close();
    tls.closeAllConnections();
    await new Promise((r) => tls.close(r));
  });

  /** The built transport in a fresh process with `env`: prints the status and body, or the error. */
  async function fetchInChild(env: Record<string, string>): Promise<string> {
    const script = `import { githubFetch } from ${JSON.stringify(join(PACKAGE_ROOT, 'dist', 'adapters', 'github-transport.js'))};
      try { const r = await githubFetch(5000)('https://${NAME}:${port}/orgs/acme/actions/runs'); console.log(r.status, await r.text()); }
      catch (e) { console.log('error', e.code ?? '', e.message); }`;
    const clean: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!/proxy|NODE_EXTRA_CA_CERTS|NODE_OPTIONS/i.test(k)) clean[k] = v;
    const { stdout } = await execFileP(process.execPath, ['--input-type=module', '-e', script], { env: { ...clean, ...env } });
    return stdout.trim();
  }

  test('https_proxy (lower case) and NODE_EXTRA_CA_CERTS: 200 through the tunnel, body decoded', async () => {
    expect(await fetchInChild({ https_proxy: proxy.url, NODE_EXTRA_CA_CERTS: caFile })).toBe(`200 ${BODY}`);
    expect(proxy.tunnels).toContain(`${NAME}:${port}`);
  });

  test('without NODE_EXTRA_CA_CERTS the private CA is not trusted: a TLS error, not an answer', async () => {
    expect(await fetchInChild({ HTTPS_PROXY: proxy.url })).toMatch(/^error UNABLE_TO_VERIFY_LEAF_SIGNATURE|^error .*(certificate|self.signed)/i);
  });

  test('without the proxy the name does not resolve: the server is reachable only through it', async () => {
    expect(await fetchInChild({ NODE_EXTRA_CA_CERTS: caFile })).toMatch(/^error (ENOTFOUND|EAI_AGAIN)/);
  });
});
