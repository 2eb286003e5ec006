/**
 * The HTTP transport of the GitHub adapter: a `fetch` for Octokit's `request.fetch` option (every
 * request goes through `Tracker.fetch`), built on Node's own `http`/`https` clients instead of the
 * global WHATWG `fetch`.
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
 * ## Gotchas
 * - The response is a minimal stand-in for a WHATWG `Response`: exactly what `@octokit/request`'s
 *   fetch wrapper and our `Tracker` read (`status`, `url`, `headers.get` and iteration, `text()`,
 *   `json()`, `arrayBuffer()`, `body`). Headers come lower-cased, repeated ones joined with ", ".
 * - A body nobody reads (304, 204) is drained at once, so the connection goes back to the pool.
 * - The deadline is the socket's idle timeout: `timeoutMs` without a byte, while waiting for the
 *   response headers and again between body chunks (not one deadline for the whole attempt;
 *   GitHub's pages are small). A timeout is an error, which `@octokit/request` (writes) and the
 *   adapter's `sendGet` (reads) report as status 500, so the adapter's read retry and "unknown" apply.
 * - Redirects are followed (up to 5), as the global fetch does: GitHub answers 301 for a repository
 *   renamed since the repository list was read. As fetch (and undici) do, the `authorization`
 *   header is dropped on a redirect to another origin. Links and persisted URLs the adapter is
 *   asked to GET are checked before the token is attached (github-origin.ts).
 * - A body larger than MAX_BODY_BYTES is an error and the connection is dropped: GitHub's largest
 *   pages (100 workflow runs or jobs) are well under 1 MB, and a misbehaving server or proxy must not
 *   grow the daemon's memory without bound (audit turn4-security N9: a 150 MB body took RSS from 59 to
 *   706 MB).
 * - One connection pool per scheme and process: every adapter shares it. Idle connections are
 *   closed after 30 s, or sooner when the server's `Keep-Alive: timeout=` hint says so (Node's
 *   agent honours the hint).
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

/**
 * Idle connections are kept 30 s when the server gives no keep-alive hint. A tick every 15 s then
 * reuses the last tick's connections instead of opening (and with TLS, handshaking) eight new ones.
 * GitHub closes idle connections after about 60 s (sourcegraph/sourcegraph-public-snapshot#4345),
 * so 30 s stays clear of a request racing that close.
 */
const IDLE_MS = 30_000;
const httpPool = new HttpAgent({ keepAlive: true, timeout: IDLE_MS });
const httpsPool = new HttpsAgent({ keepAlive: true, timeout: IDLE_MS });
const NO_BODY = new Set([204, 205, 304]);
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;
/** The largest response body read (see the header). */
export const MAX_BODY_BYTES = 16 * 1024 * 1024;

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
  timeoutMs: number;
}

/** One request; resolves with the response once its headers are in (redirects followed). */
function send(url: URL, attempt: Attempt, redirectsLeft: number): Promise<{ res: IncomingMessage; url: URL }> {
  return new Promise((resolve, reject) => {
    const https = url.protocol === 'https:';
    const req = (https ? httpsRequest : httpRequest)(url, {
      method: attempt.method,
      headers: attempt.headers,
      agent: https ? httpsPool : httpPool,
      ...(attempt.signal ? { signal: attempt.signal } : {}),
    });
    req.setTimeout(attempt.timeoutMs, () => req.destroy(new Error(`GitHub request timeout: no answer within ${attempt.timeoutMs} ms`)));
    req.on('error', reject);
    req.on('response', (res) => {
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

function without(headers: OutgoingHttpHeaders, names: ReadonlySet<string>): OutgoingHttpHeaders {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !names.has(name.toLowerCase())));
}

/** Every chunk of a body, joined; an error (timeout, reset) rejects. */
function readAll(res: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error(`GitHub response larger than ${MAX_BODY_BYTES / (1024 * 1024)} MB; not read (a misbehaving server or proxy)`));
        res.destroy();
        return;
      }
      chunks.push(chunk);
    });
    res.on('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    // Node reports a connection lost mid-body as an 'error' ("aborted") or, at worst, only as a
    // close before the end: either way the body is incomplete, never a shorter body.
    const cutOff = (why: string) => reject(new Error(`GitHub response cut off before its end (${why})`));
    res.on('error', (err) => cutOff(err.message));
    res.on('close', () => {
      if (!res.complete) cutOff('connection closed');
    });
  });
}

/** A `fetch` for `request.fetch`: each attempt waits at most `timeoutMs` for headers and per body chunk. */
export function githubFetch(timeoutMs: number): typeof globalThis.fetch {
  return (async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const { res, url: answered } = await send(new URL(url), {
      method: init?.method ?? 'GET',
      headers: (init?.headers ?? {}) as OutgoingHttpHeaders,
      body: typeof init?.body === 'string' ? init.body : undefined,
      signal: init?.signal ?? undefined,
      timeoutMs,
    }, MAX_REDIRECTS);
    const status = res.statusCode ?? 0;
    let bytes: Promise<Buffer> | undefined;
    if (NO_BODY.has(status)) {
      // Nothing to read: drain the socket so the connection goes back to the pool.
      res.resume();
      bytes = Promise.resolve(Buffer.alloc(0));
    }
    const read = () => (bytes ??= readAll(res));
    const readText = async () => (await read()).toString('utf8');
    const response = {
      status,
      statusText: res.statusMessage ?? '',
      url: answered.href,
      headers: new ResponseHeaders(res.headers),
      body: res,
      text: readText,
      json: async () => JSON.parse(await readText()) as unknown,
      arrayBuffer: async () => {
        const b = await read();
        return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
      },
    };
    return response as unknown as Response;
  }) as typeof globalThis.fetch;
}
