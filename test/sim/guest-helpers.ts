/**
 * Test helpers for the simulated guest and the SSH adapter: free ports, a JIT config encoder and a
 * stub of the fake GitHub's broker (the three endpoints the simulated runner calls).
 *
 * ## Lifecycle
 * Each test starts what it needs (`startStubBroker`, ports) and closes it in its own teardown.
 *
 * ## Gotchas
 * - `freePort` binds port 0 and releases it: another process could take it in between, which is
 *   acceptable on a test machine.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { createServer } from 'node:net';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { GuestError } from '../../src/core/ports.js';

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64');

/** An encoded JIT config in the format the simulated runner (and actions/runner) decodes. */
export function encodeJit(opts: { agentId: number; serverUrl: string; secret?: string; agentName?: string }): {
  encoded: string;
  secret: string;
} {
  const secret = opts.secret ?? `sim-secret-${randomBytes(12).toString('hex')}`;
  const encoded = b64({
    '.runner': b64({ agentId: opts.agentId, agentName: opts.agentName ?? `tf-coder-${opts.agentId}`, poolId: 1, serverUrl: opts.serverUrl, workFolder: '_work' }),
    '.credentials': b64({ scheme: 'OAuth', data: { clientId: `client-${opts.agentId}`, secret } }),
  });
  return { encoded, secret };
}

/** A random string shaped like an encoded JIT config that does not decode to one. */
export function opaqueJit(): string {
  return randomBytes(240).toString('base64');
}

export interface BrokerCall {
  method: string;
  path: string;
  auth: string | undefined;
  body: unknown;
}

export interface StubBroker {
  url: string;
  calls: BrokerCall[];
  /** Jobs handed out on the next message poll, in order. */
  jobs: { id: number; name: string; repo: string; duration_ms: number }[];
  completed: { id: string; result: unknown }[];
  /** Override answers: return a status to send instead of the normal behaviour. */
  intercept?: (call: BrokerCall) => number | undefined;
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? (JSON.parse(text) as unknown) : undefined;
}

export async function startStubBroker(expectedSecret: () => string, port = 0): Promise<StubBroker> {
  const broker: StubBroker = {
    url: '',
    calls: [],
    jobs: [],
    completed: [],
    close: async () => undefined,
  };
  const server: Server = createHttpServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const url = new URL(req.url ?? '/', 'http://x');
      const call: BrokerCall = { method: req.method ?? '', path: url.pathname, auth: req.headers.authorization, body };
      broker.calls.push(call);
      const send = (status: number, payload?: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(payload === undefined ? undefined : JSON.stringify(payload));
      };
      const forced = broker.intercept?.(call);
      if (forced !== undefined) return send(forced, { message: 'forced' });
      if (call.auth !== `Bearer ${expectedSecret()}`) return send(401, { message: 'bad credentials' });
      if (call.method === 'POST' && call.path === '/_sim/broker/sessions') return send(201, { sessionId: 'sess-1' });
      const msg = /^\/_sim\/broker\/sessions\/([^/]+)\/message$/.exec(call.path);
      if (call.method === 'GET' && msg) {
        const job = broker.jobs.shift();
        if (job) return send(200, { job });
        const wait = Math.min(Number(url.searchParams.get('wait_ms') ?? 0), 200);
        setTimeout(() => send(204), wait);
        return;
      }
      const done = /^\/_sim\/broker\/jobs\/([^/]+)\/complete$/.exec(call.path);
      if (call.method === 'POST' && done?.[1]) {
        broker.completed.push({ id: done[1], result: (body as { result?: unknown } | undefined)?.result });
        return send(200, {});
      }
      send(404, { message: 'not found' });
    })();
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  const addr = server.address();
  broker.url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  broker.close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return broker;
}

/** Polls until `cond` holds or `ms` pass; returns whether it held. */
export async function waitFor(cond: () => boolean, ms = 5000, step = 25): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, step));
  }
  return cond();
}

/** Every process's argv (and, where readable, environment) that contains `needle`, as `pid: what`. */
export function processesContaining(needle: string): string[] {
  const hits: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    for (const file of ['cmdline', 'environ']) {
      try {
        if (readFileSync(`/proc/${pid}/${file}`, 'latin1').includes(needle)) hits.push(`${pid}: ${file}`);
      } catch {
        // the process ended or is not ours to read
      }
    }
  }
  return hits;
}

/** Resolves true if `p` settles within `ms`. */
export async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)));
  const result = await Promise.race([p.then(() => true, () => true), t]);
  clearTimeout(timer);
  return result;
}

/** The GuestError `p` rejects with; success, or any other error, fails the test. */
export async function failure(p: Promise<unknown>): Promise<GuestError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof GuestError) return err;
    throw err;
  }
  throw new Error('expected a GuestError, got success');
}
