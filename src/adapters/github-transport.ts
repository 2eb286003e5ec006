/**
 * The HTTP transport of every call to GitHub: a `fetch` for Octokit's `request.fetch` option (the
 * adapter's reads through `Tracker.fetch`, its writes, the App token exchange, `validate`), built on
 * Node's own `http`/`https` clients instead of the global WHATWG `fetch`.
 *
 * Why not the global `fetch`: at 1,000 repositories the sweep sends ~70 conditional GETs a tick,
 * and the global `fetch` (undici inside Node, wrapped in WHATWG Request, Response, Headers and web
 * streams objects, plus an `AbortSignal.timeout` per attempt) cost about twice the CPU of the same
 * requests without those wrappers (measured: 64 → 24 ms of CPU per tick for the GitHub adapter
 * alone; issue #21).
 * Why not undici's `request()` (what this module used before): loading undici, and compiling its
 * WebAssembly HTTP parser, costs the daemon ~10 MB of resident memory for the whole of its life,
 * where `node:http` parses with the llhttp already inside the node executable.
 *
 * Corporate networks (issue #31):
 * - Proxies: `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY` and `NO_PROXY`, either case, decided per URL by
 *   `proxy-from-env` (the rules curl and most tools share). Node's own clients ignore these
 *   variables (Node ≥ 24 honours them only under `NODE_USE_ENV_PROXY`, and only for the global
 *   agent: nodejs.org/api/http.html "Built-in Proxy Support"), so a proxied URL goes through
 *   `https-proxy-agent` (CONNECT tunnel, then TLS to GitHub end to end) or `http-proxy-agent`
 *   (plain-HTTP APIs). Both are from TooTallNate/proxy-agents, the agents `proxy-agent` itself
 *   composes; `proxy-agent` was not taken because it also loads PAC (a QuickJS WebAssembly VM) and
 *   SOCKS support, the kind of resident cost this module avoids (see undici above).
 * - Private CAs: no agent here sets `ca`. Node adds `NODE_EXTRA_CA_CERTS` (read once at process
 *   start) to its default trust store, but "neither the well known nor extra certificates are used
 *   when the `ca` options property is explicitly specified" (nodejs.org/api/cli.html,
 *   NODE_EXTRA_CA_CERTS). The tunnelled TLS of https-proxy-agent also leaves `ca` unset. The
 *   system store (the macOS keychain) is Node's `--use-system-ca` (Node 22.15 / 23.8 and later);
 *   Node 20 has no such option, so there a private CA must be given as NODE_EXTRA_CA_CERTS.
 *
 * ## Gotchas
 * - The response is a minimal stand-in for a WHATWG `Response`: exactly what `@octokit/request`'s
 *   fetch wrapper and our `Tracker` read (`status`, `url`, `headers.get` and iteration, `text()`,
 *   `json()`, `arrayBuffer()`, `body`). Headers come lower-cased, repeated ones joined with ", ".
 * - The body is read whole *before* `fetch` resolves: Octokit's wrapper turns a body it cannot read
 *   into "" (`getResponseData` catches), which for a token exchange or a claim would be an answer
 *   read as empty. Here a cut-off, over-large or undecodable body is an error from `fetch` itself,
 *   which `@octokit/request` reports as status 500: unknown, never "nothing".
 * - One deadline per request: `timeoutMs` from the first byte sent to the last byte of the body,
 *   redirects included. A timeout is an error, as above.
 * - `accept-encoding: gzip, br` is sent (unless the caller set one) and gzip, br and deflate bodies
 *   are decoded; the stand-in's headers then drop `content-encoding` and `content-length`, which
 *   describe the bytes on the wire, not the text handed on (as fetch does with the body).
 * - A body may be at most MAX_BODY_BYTES, on the wire and decoded: GitHub's pages are kilobytes, and
 *   a 150 MB answer (a broken proxy, a compressed bomb) would otherwise be held whole in memory.
 *   A larger one is an error as soon as it is known (content-length) or counted.
 * - Redirects are followed (up to 5), as the global fetch does: GitHub answers 301 for a repository
 *   renamed since the repository list was read. As fetch (and undici) do, the `authorization`
 *   header is dropped on a redirect to another origin. Links and persisted URLs the adapter is
 *   asked to GET are checked before the token is attached (github-origin.ts).
 * - One connection pool per scheme (and per proxy) and process: every adapter shares it. Idle
 *   connections are closed after 30 s, or sooner when the server's `Keep-Alive: timeout=` hint says
 *   so (Node's agent honours the hint).
 * - Proxy credentials in a proxy URL (`http://user:pass@proxy:3128`) go to the proxy only, as
 *   `proxy-authorization`; nothing here logs a proxy URL.
 */
import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Readable, Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { HttpProxyAgent } from 'http-proxy-agent';
import { HttpsProxyAgent } from 'https-proxy-agent';
import { getProxyForUrl } from 'proxy-from-env';

/**
 * Idle connections are kept 30 s when the server gives no keep-alive hint. A tick every 15 s then
 * reuses the last tick's connections instead of opening (and with TLS, handshaking) eight new ones.
 * GitHub closes idle connections after about 60 s (sourcegraph/sourcegraph-public-snapshot#4345),
 * so 30 s stays clear of a request racing that close.
 */
const IDLE_MS = 30_000;
const httpPool = new HttpAgent({ keepAlive: true, timeout: IDLE_MS });
const httpsPool = new HttpsAgent({ keepAlive: true, timeout: IDLE_MS });
/** One agent per (scheme, proxy URL): each keeps its own pool of tunnels. */
const proxyPools = new Map<string, HttpAgent>();
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;
/** The most a response body may hold, on the wire and decoded. */
export const MAX_BODY_BYTES = 32 * 1024 * 1024;
/** What we can decode (zlib); sent unless the caller set its own. */
const ACCEPT_ENCODING = 'gzip, br';

/** The agent for `url`: direct, or through the proxy the environment names for it. */
function agentFor(url: URL): HttpAgent {
  const https = url.protocol === 'https:';
  const proxy = getProxyForUrl(url.href);
  if (!proxy) return https ? httpsPool : httpPool;
  const key = `${url.protocol} ${proxy}`;
  let agent = proxyPools.get(key);
  if (!agent) {
    agent = https ? new HttpsProxyAgent(proxy, { keepAlive: true, timeout: IDLE_MS }) : new HttpProxyAgent(proxy, { keepAlive: true, timeout: IDLE_MS });
    proxyPools.set(key, agent);
  }
  return agent;
}

/** The headers of a response: what `@octokit/request` and `Tracker` use of WHATWG `Headers`. */
class ResponseHeaders {
  constructor(private readonly raw: Record<string, string | string[] | undefined>) {}

  get(name: string): string | null {
    const value = this.raw[name.toLowerCase()];
    if (value === undefined) return null;
    return Array.isArray(value) ? value.join(', ') : value;
  }

  *[Symbol.iterator](): IterableIterator<[string, string]> {
    for (const name of Object.keys(this.raw)) {
      const value = this.get(name);
      if (value !== null) yield [name, value];
    }
  }
}

interface Attempt {
  method: string;
  headers: OutgoingHttpHeaders;
  body: string | undefined;
  signal: AbortSignal | undefined;
  /** Where the request in flight is kept, so the deadline can end it. */
  live: { req?: ClientRequest; res?: IncomingMessage };
}

/** One request; resolves with the response once its headers are in (redirects followed). */
function send(url: URL, attempt: Attempt, redirectsLeft: number): Promise<{ res: IncomingMessage; url: URL }> {
  return new Promise((resolve, reject) => {
    const https = url.protocol === 'https:';
    const req = (https ? httpsRequest : httpRequest)(url, {
      method: attempt.method,
      headers: attempt.headers,
      agent: agentFor(url),
      ...(attempt.signal ? { signal: attempt.signal } : {}),
    });
    attempt.live.req = req;
    req.on('error', reject);
    req.on('response', (res) => {
      attempt.live.res = res;
      const location = res.headers.location;
      if (!REDIRECTS.has(res.statusCode ?? 0) || location === undefined) return resolve({ res, url });
      res.resume();
      if (redirectsLeft === 0) return reject(new Error(`GitHub request: more than ${MAX_REDIRECTS} redirects from ${url.href}`));
      const target = new URL(location, url);
      // As fetch does: a 303, or a 301/302 answering a POST, is followed with a GET and no body;
      // and credentials never follow a redirect to another origin.
      const asGet = res.statusCode === 303 || ((res.statusCode === 301 || res.statusCode === 302) && attempt.method === 'POST');
      let headers = asGet ? without(attempt.headers, BODY_HEADERS) : attempt.headers;
      if (target.origin !== url.origin) headers = without(headers, CREDENTIAL_HEADERS);
      const next = { ...attempt, headers, ...(asGet ? { method: 'GET', body: undefined } : {}) };
      send(target, next, redirectsLeft - 1).then(resolve, reject);
    });
    req.end(attempt.body);
  });
}

/** Dropped on a redirect to another origin: the token goes to the configured API only. */
const CREDENTIAL_HEADERS = new Set(['authorization', 'cookie', 'proxy-authorization']);
/** Dropped when a redirect turns a POST into a GET: the body is not sent again. */
const BODY_HEADERS = new Set(['content-type', 'content-length']);
/** Dropped from a decoded response: they describe the bytes on the wire. */
const WIRE_HEADERS = new Set(['content-encoding', 'content-length']);

function without(headers: OutgoingHttpHeaders, names: ReadonlySet<string>): OutgoingHttpHeaders {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !names.has(name.toLowerCase())));
}

/** The decoder for a `content-encoding`; undefined for none; an Error for one we never asked for. */
function decoderFor(encoding: string | undefined): Transform | undefined | Error {
  const e = (encoding ?? '').trim().toLowerCase();
  if (e === '' || e === 'identity') return undefined;
  if (e === 'gzip' || e === 'x-gzip') return createGunzip();
  if (e === 'br') return createBrotliDecompress();
  if (e === 'deflate') return createInflate();
  return new Error(`GitHub response in an encoding we cannot decode: ${e}`);
}

/** The body, decoded, at most MAX_BODY_BYTES; an error (cut off, too large, undecodable) rejects. */
function readAll(res: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(res.headers['content-length']);
    const tooLarge = () => new Error(`GitHub response larger than ${MAX_BODY_BYTES / (1024 * 1024)} MB: refused`);
    const fail = (err: Error) => {
      res.destroy();
      reject(err);
    };
    if (Number.isFinite(declared) && declared > MAX_BODY_BYTES) return fail(tooLarge());
    const decoder = decoderFor(res.headers['content-encoding'] as string | undefined);
    if (decoder instanceof Error) return fail(decoder);
    const chunks: Buffer[] = [];
    let wire = 0;
    let size = 0;
    // Node reports a connection lost mid-body as an 'error' ("aborted") or, at worst, only as a
    // close before the end: either way the body is incomplete, never a shorter body.
    const cutOff = (why: string) => fail(new Error(`GitHub response cut off before its end (${why})`));
    res.on('error', (err) => cutOff(err.message));
    res.on('close', () => {
      if (!res.complete) cutOff('connection closed');
    });
    res.on('data', (chunk: Buffer) => {
      wire += chunk.length;
      if (wire > MAX_BODY_BYTES) fail(tooLarge());
    });
    const out: Readable = decoder ? res.pipe(decoder) : res;
    out.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        decoder?.destroy();
        return fail(tooLarge());
      }
      chunks.push(chunk);
    });
    if (decoder) decoder.on('error', (err: Error) => fail(new Error(`GitHub response could not be decoded (${res.headers['content-encoding'] as string}): ${err.message}`)));
    out.on('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
  });
}

/** A `fetch` for `request.fetch`: each request, body included, must be done within `timeoutMs`. */
export function githubFetch(timeoutMs: number): typeof globalThis.fetch {
  return (async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const headers = { ...((init?.headers ?? {}) as OutgoingHttpHeaders) };
    if (!Object.keys(headers).some((h) => h.toLowerCase() === 'accept-encoding')) headers['accept-encoding'] = ACCEPT_ENCODING;
    const live: Attempt['live'] = {};
    const timeout = new Error(`GitHub request timeout: not done within ${timeoutMs} ms`);
    const deadline = setTimeout(() => {
      live.res?.destroy(timeout);
      live.req?.destroy(timeout);
    }, timeoutMs);
    try {
      const { res, url: answered } = await send(new URL(url), {
        method: init?.method ?? 'GET',
        headers,
        body: typeof init?.body === 'string' ? init.body : undefined,
        signal: init?.signal ?? undefined,
        live,
      }, MAX_REDIRECTS);
      const bytes = await readAll(res).catch((err: Error) => {
        throw res.errored === timeout ? timeout : err;
      });
      const decoded = res.headers['content-encoding'] !== undefined;
      const raw = decoded ? Object.fromEntries(Object.entries(res.headers).filter(([name]) => !WIRE_HEADERS.has(name))) : res.headers;
      const text = () => bytes.toString('utf8');
      const response = {
        status: res.statusCode ?? 0,
        statusText: res.statusMessage ?? '',
        url: answered.href,
        headers: new ResponseHeaders(raw),
        body: res,
        text: async () => text(),
        json: async () => JSON.parse(text()) as unknown,
        arrayBuffer: async () => bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
      };
      return response as unknown as Response;
    } finally {
      clearTimeout(deadline);
    }
  }) as typeof globalThis.fetch;
}
