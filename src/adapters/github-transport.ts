/**
 * The HTTP transport of the GitHub adapter: a `fetch` for Octokit's `request.fetch` option (every
 * request goes through `Tracker.fetch`), built on undici's `request()` instead of the global WHATWG
 * `fetch`.
 *
 * Why: at 1,000 repositories the sweep sends ~70 conditional GETs a tick, and the global `fetch`
 * (undici's too, wrapped in WHATWG Request, Response, Headers and web streams objects, plus an
 * `AbortSignal.timeout` per attempt) cost about twice the CPU of the same requests through undici's
 * `request()` (measured: 64 → 24 ms of CPU per tick for the GitHub adapter alone; issue #21). undici
 * is the library Node's own fetch is built on, kept by the Node.js project.
 *
 * ## Gotchas
 * - The response is a minimal stand-in for a WHATWG `Response`: exactly what `@octokit/request`'s
 *   fetch wrapper and our `Tracker` read (`status`, `url`, `headers.get` and iteration, `text()`,
 *   `json()`, `arrayBuffer()`, `body`). Headers come lower-cased, repeated ones joined with ", ".
 * - A body nobody reads (304, 204) is dumped at once, so the connection goes back to the pool.
 * - The deadline is undici's: `timeoutMs` for the response headers, and again between body chunks
 *   (not one deadline for the whole attempt; GitHub's pages are small). A timeout is an error, which
 *   `@octokit/request` (writes) and the adapter's `sendGet` (reads) report as status 500, so the
 *   adapter's read retry and "unknown" apply.
 * - Redirects are followed (up to 5), as the global fetch does: GitHub answers 301 for a repository
 *   renamed since the repository list was read.
 * - One connection pool per process: every adapter shares it. A server's keep-alive hint wins over
 *   the 30 s idle timeout (undici keeps a connection until 1 s before the hint).
 */
import { Agent, request } from 'undici';

/**
 * Idle connections are kept 30 s when the server gives no keep-alive hint (undici's default is 4 s).
 * A tick every 15 s then reuses the last tick's connections instead of opening (and with TLS,
 * handshaking) eight new ones. GitHub closes idle connections after about 60 s
 * (sourcegraph/sourcegraph-public-snapshot#4345), so 30 s stays clear of a request racing that close.
 */
const pool = new Agent({ keepAliveTimeout: 30_000 });
const NO_BODY = new Set([204, 205, 304]);

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

/** A `fetch` for `request.fetch`: each attempt waits at most `timeoutMs` for headers and per body chunk. */
export function githubFetch(timeoutMs: number): typeof globalThis.fetch {
  return (async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const res = await request(url, {
      method: (init?.method ?? 'GET') as 'GET',
      headers: init?.headers as Record<string, string> | undefined,
      body: typeof init?.body === 'string' ? init.body : undefined,
      signal: init?.signal ?? undefined,
      dispatcher: pool,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      maxRedirections: 5,
    });
    let bytes: Promise<ArrayBuffer> | undefined;
    if (NO_BODY.has(res.statusCode)) {
      // Read nothing more from the socket; a consumer gets an empty body (undici cannot read a dumped one).
      await res.body.dump();
      bytes = Promise.resolve(new ArrayBuffer(0));
    }
    const read = () => (bytes ??= res.body.arrayBuffer());
    const readText = async () => new TextDecoder().decode(await read());
    const response = {
      status: res.statusCode,
      statusText: '',
      url,
      headers: new ResponseHeaders(res.headers),
      body: res.body,
      text: readText,
      json: async () => JSON.parse(await readText()) as unknown,
      arrayBuffer: read,
    };
    return response as unknown as Response;
  }) as typeof globalThis.fetch;
}
