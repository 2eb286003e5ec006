/**
 * FakeGitHub: a real `node:http` server on 127.0.0.1 (port 0) that behaves like api.github.com for
 * the endpoints tart-fleet uses (facts sheet §5–§9, Appendix B), plus in-process "world control" for
 * tests and the demo (queue jobs, cancel runs, inject faults and rate limits) and records for
 * end-to-end assertions (job histories, every runner ever created, request and 304 counts).
 *
 * ## Lifecycle
 * `new FakeGitHub(opts)` → `await start()` gives the base URL to use as `api_url` (with `/api/v3` when
 * `pathPrefix` is set, like GitHub Enterprise Server) → drive the world → `await stop()` closes the
 * server, its keep-alive connections and pending broker long polls.
 *
 * ## Gotchas
 * - Every response carries `x-ratelimit-*` headers. Any request with a valid token costs one unit of
 *   the primary budget except `GET /rate_limit`, a 304, App token exchange, and the broker.
 * - A 304 has no body and leaves the budget untouched (facts §7). ETags depend on the token (`send`):
 *   an ETag saved with one token is a 200 with the next, as on GitHub (audit G1/N7).
 * - Faults (`failNext`, outage, secondary limit) are checked after authentication and before routing,
 *   and cost nothing.
 * - Secondary limit by points (`secondaryPoints`, off by default): GitHub's documented "no more than
 *   900 points per minute" for REST (GET 1 point, POST/PATCH/PUT/DELETE 5), counted over the last 60 s
 *   of the world clock, per route template by default (whether GitHub counts per route or per URL is
 *   unverified, audit L1). 304s count too (unverified; the stricter reading). Over it: 403 with the
 *   secondary-rate-limit body and a `retry-after` of the seconds until the window has room.
 * - Runner-list lag (`runnerListLagMs`) and the latest runner release (`latestRunnerVersion`, older
 *   runners update themselves on connect): see state.ts and broker.ts.
 * - Installation tokens expire at `expires_at` (the world clock); then they are 401 `Bad credentials`.
 * - Tokens have a kind, as on GitHub. A classic PAT's every authenticated response carries
 *   `x-oauth-scopes` (its scopes, ", "-separated, possibly empty); a fine-grained PAT's and an
 *   installation token's never do. Installation tokens hold the App's `permissions` at issue time
 *   (also in the access_tokens response).
 * - Corporate networks (`tls`, `hostname`): with `tls`, the API is served over HTTPS with the given
 *   certificate (tests sign it with a private CA) at `https://<hostname>:<port>`; a `hostname` no
 *   resolver knows makes the API reachable only through a proxy that maps it. The runners' broker
 *   then listens apart, plain HTTP on 127.0.0.1, as GitHub's runners talk to a broker host other
 *   than the API; the JIT configs name it. That listener answers broker paths only.
 * - Compression: a body is gzip- (else brotli-) encoded when the request's `accept-encoding` offers
 *   it, as GitHub does; a client that offers nothing gets identity.
 * - ETags depend on the token as well as the body: GitHub's are "auth token specific" (GitHub
 *   support in eclipse-csi/otterdog#201; github/docs#34689), so a refreshed App token's first
 *   conditional GETs get 200s, not 304s.
 * - Routes declare the access they need (routes.ts). Lacking it is 403, after the rate-limit check:
 *   classic `Must have admin rights to Repository.` (what GitHub says for org runner endpoints
 *   without `admin:org`), App `Resource not accessible by integration`, fine-grained `Resource not
 *   accessible by personal access token`. A fine-grained PAT with no `permissions` given is not
 *   checked (the fake cannot know what it was granted).
 * - Webhooks (hooks.ts): org hooks are read with a token (`admin:org_hook` / `organization_hooks`);
 *   the App's own hook (`/app/hook/config`, `/app/hook/deliveries`) only with the App's JWT, and
 *   costs nothing of an installation's budget (JWT requests are not an installation's).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createHash, randomBytes, type KeyObject } from 'node:crypto';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { type Ctx, type Reply, errorReply, etagMatches, header, weakEtag } from './http.js';
import { deliveriesReply, deliveryReply, matchRoute, type RouteAccess, type RouteEnv } from './routes.js';
import type { SimHook } from './hooks.js';
import { Broker, BROKER_PREFIX } from './broker.js';
import { type AppRegistration, loadPublicKey, verifyAppJwt } from './app-auth.js';
import { type JobEvent, type QueueJobRequest, type RunnerGroupInit, type RunnerRecord, type SimJob, type SimRepo, type SimRunnerGroup, WorldState } from './state.js';

/** A permission level as GitHub names it (`admin` exists for a few repository permissions). */
export type PermissionLevel = 'read' | 'write' | 'admin';

/** What a personal access token is, as GitHub shows it. */
export type PatKind =
  | { kind: 'classic'; scopes: string[] }
  /** `permissions` unset: every route is allowed (there is nothing on the wire that shows them). */
  | { kind: 'fine-grained'; permissions?: Record<string, PermissionLevel> };

type Grant = PatKind | { kind: 'installation'; permissions: Record<string, PermissionLevel> };

/** A classic PAT that can do everything tart-fleet does (README: `admin:org`, plus `repo` for private repos). */
export const DEFAULT_PAT: PatKind = { kind: 'classic', scopes: ['admin:org', 'repo'] };
/** The installation permissions tart-fleet needs (README): org self-hosted runners write, Actions read, Metadata read. */
export const DEFAULT_APP_PERMISSIONS: Readonly<Record<string, PermissionLevel>> = {
  organization_self_hosted_runners: 'write',
  actions: 'read',
  metadata: 'read',
};

const LEVEL_RANK: Record<string, number> = { read: 1, write: 2, admin: 3 };

export interface FakeGitHubOptions {
  /** The organisation (default `acme`). */
  org?: string;
  /** Tokens accepted as `Authorization: token X` / `Bearer X` (PATs). */
  tokens?: string[];
  /** What the `tokens` are (default DEFAULT_PAT: classic with `admin:org, repo`). */
  pat?: PatKind;
  /** A GitHub App whose JWTs the fake accepts at `POST /app/installations/{id}/access_tokens`. */
  app?: AppRegistration & {
    /** Lifetime of installation tokens (default 1 h). */
    tokenTtlMs?: number;
    /** The installation's permissions, given to each token (default DEFAULT_APP_PERMISSIONS). */
    permissions?: Record<string, PermissionLevel>;
  };
  /** The world clock (default Date.now): job `created_at`, token expiry, rate-limit reset. */
  now?: () => number;
  /**
   * `/api/v3` to serve like GitHub Enterprise Server. Outside it the host answers as GHES's web
   * interface does: HTML pages (`text/html`), never the API's JSON (see `webUrl`).
   */
  pathPrefix?: string;
  /**
   * Endpoints this GitHub does not have (route names as in `requestCounts()`, e.g.
   * `GET /orgs/{org}/actions/runners/downloads`): answered with the API's JSON 404, as a server
   * whose version lacks the endpoint answers it.
   */
  missingEndpoints?: string[];
  /** Runner groups that exist, with GitHub's defaults (default [1], the "Default" group). */
  runnerGroupIds?: number[];
  /** Runner groups with their settings (added after `runnerGroupIds`; given alone, no Default group). */
  runnerGroups?: RunnerGroupInit[];
  rateLimit?: { limit?: number; remaining?: number; resetInSeconds?: number };
  /** The runner list shows the world as it was this long ago (default 0; GitHub: up to 60 s). */
  runnerListLagMs?: number;
  /** The newest runner release (default 2.336.0, the image's); runners reporting an older one update on connect. */
  latestRunnerVersion?: string;
  /** Enforce the secondary limit by points per minute (default off). */
  secondaryPoints?: SecondaryPointsLimit;
  /** Serve the API over HTTPS with this key and certificate (PEM); the broker stays plain HTTP. */
  tls?: { key: string; cert: string };
  /** The host name the API URL carries (default 127.0.0.1); the server still listens on 127.0.0.1. */
  hostname?: string;
}

/** A secondary rate limit by points (see the header). */
export interface SecondaryPointsLimit {
  /** Points allowed in any 60 s (GitHub: 900). */
  pointsPerMinute: number;
  /** Count per route template (default) or all routes together. */
  per?: 'route' | 'all';
}

/** One request as `setRequestListener` reports it. */
export interface RequestEvent {
  /** When it arrived (epoch ms, the world clock). */
  at: number;
  /** The endpoint, e.g. `GET /orgs/{org}/repos` (the names `requestCounts()` uses). */
  route: string;
  /** The status sent. */
  status: number;
}

export type RequestListener = (event: RequestEvent) => void;

export interface RateLimitState {
  limit: number;
  remaining: number;
  /** Epoch seconds. */
  reset: number;
}

export interface JobRecord {
  id: number;
  runId: number;
  repo: string;
  name: string;
  labels: string[];
  status: string;
  conclusion: string | null;
  runnerName: string | null;
  history: JobEvent[];
}

interface Fault {
  status: number;
  remaining: number;
  headers?: Record<string, string>;
}

const SECONDARY_MESSAGE = 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.';

export class FakeGitHub {
  readonly world: WorldState;
  readonly org: string;
  private server: Server | undefined;
  private baseUrl = '';
  /** The broker's own plain-HTTP listener, when the API is served over TLS. */
  private brokerServer: Server | undefined;
  private brokerBase: string | undefined;
  private readonly prefix: string;
  private readonly missingEndpoints: Set<string>;
  /** token -> expiry (ms, null: never) and what it may do. */
  private readonly tokens = new Map<string, { expiresAt: number | null; grant: Grant }>();
  private readonly pat: PatKind;
  private appPermissions: Record<string, PermissionLevel>;
  private readonly broker: Broker;
  private readonly app: { appId: number | string; installationId: number; key: KeyObject } | undefined;
  private installationTokenTtlMs: number;
  private readonly rate: RateLimitState;
  private primaryStatus: 403 | 429 = 403;
  private failNextFault: Fault | undefined;
  private outage = false;
  private linkOrigin: string | undefined;
  private secondary: { remaining: number; retryAfterSeconds: number; status: 403 | 429 } | undefined;
  private readonly counts = new Map<string, number>();
  private readonly tokenCounts = new Map<string, number>();
  private total = 0;
  private notModified = 0;
  private readonly issuedTokens: Array<{ token: string; expiresAt: number }> = [];
  private secondaryPoints: SecondaryPointsLimit | undefined;
  private readonly points: Array<{ at: number; key: string; points: number }> = [];
  private secondaryRefusals = 0;
  private requestListener: RequestListener | undefined;

  constructor(private readonly opts: FakeGitHubOptions = {}) {
    this.org = opts.org ?? 'acme';
    const now = opts.now ?? Date.now;
    this.world = new WorldState(this.org, now);
    this.prefix = (opts.pathPrefix ?? '').replace(/\/+$/, '');
    this.missingEndpoints = new Set(opts.missingEndpoints ?? []);
    this.pat = opts.pat ?? DEFAULT_PAT;
    for (const t of opts.tokens ?? []) this.addToken(t);
    this.broker = new Broker(this.world);
    for (const id of opts.runnerGroupIds ?? (opts.runnerGroups ? [] : [1])) this.world.addRunnerGroup({ id });
    for (const g of opts.runnerGroups ?? []) this.world.addRunnerGroup(g);
    this.appPermissions = { ...(opts.app?.permissions ?? DEFAULT_APP_PERMISSIONS) };
    this.app = opts.app ? { appId: opts.app.appId, installationId: opts.app.installationId, key: loadPublicKey(opts.app.publicKey) } : undefined;
    if (opts.app) this.world.hooks.installationId = opts.app.installationId;
    this.installationTokenTtlMs = opts.app?.tokenTtlMs ?? 3_600_000;
    this.world.runnerListLagMs = opts.runnerListLagMs ?? 0;
    if (opts.latestRunnerVersion !== undefined) this.world.latestRunnerVersion = opts.latestRunnerVersion;
    this.secondaryPoints = opts.secondaryPoints;
    const limit = opts.rateLimit?.limit ?? 5000;
    this.rate = {
      limit,
      remaining: opts.rateLimit?.remaining ?? limit,
      reset: Math.floor(now() / 1000) + (opts.rateLimit?.resetInSeconds ?? 3600),
    };
  }

  private now(): number {
    return this.world.now();
  }

  // -------------------------------------------------------------------------------------------
  // Lifecycle

  /** Starts listening on 127.0.0.1, a free port; resolves to the base URL (usable as `api_url`). */
  async start(): Promise<string> {
    const listener = (brokerOnly: boolean) => (req: IncomingMessage, res: ServerResponse) => {
      this.handle(req, res, brokerOnly).catch((err: unknown) => {
        if (!res.headersSent) {
          res.writeHead(500, { 'content-type': 'application/json; charset=utf-8' });
          res.end(JSON.stringify({ message: `fake github: ${String(err)}`, status: '500' }));
        }
      });
    };
    const tls = this.opts.tls;
    const server = tls ? createHttpsServer({ key: tls.key, cert: tls.cert }, listener(false)) : createServer(listener(false));
    this.server = await listenLocal(server);
    const { port } = server.address() as AddressInfo;
    this.baseUrl = `${tls ? 'https' : 'http'}://${this.opts.hostname ?? '127.0.0.1'}:${port}${this.prefix}`;
    if (tls) {
      this.brokerServer = await listenLocal(createServer(listener(true)));
      this.brokerBase = `http://127.0.0.1:${(this.brokerServer.address() as AddressInfo).port}${this.prefix}`;
    }
    return this.baseUrl;
  }

  get url(): string {
    return this.baseUrl;
  }

  /** The host without the API prefix: with `pathPrefix`, GHES's web interface (HTML), not the API. */
  get webUrl(): string {
    return this.prefix ? this.baseUrl.slice(0, -this.prefix.length) : this.baseUrl;
  }

  async stop(): Promise<void> {
    this.broker.close();
    const servers = [this.server, this.brokerServer].filter((x): x is Server => x !== undefined);
    this.server = undefined;
    this.brokerServer = undefined;
    await Promise.all(servers.map((server) => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    })));
  }

  // -------------------------------------------------------------------------------------------
  // World control

  addRepo(name: string, opts: { private?: boolean; pushedAt?: number } = {}): SimRepo {
    return this.world.addRepo(name, opts);
  }

  /** Adds `count` repos named `<prefix>-0001` … (or the given names). */
  addRepos(namesOrCount: string[] | number, prefix = 'repo'): SimRepo[] {
    const names = typeof namesOrCount === 'number'
      ? Array.from({ length: namesOrCount }, (_, i) => `${prefix}-${String(i + 1).padStart(4, '0')}`)
      : namesOrCount;
    return names.map((n) => this.world.addRepo(n));
  }

  /** Queues a job (creating its run unless `runId` is given); the broker may assign it at once. */
  queueJob(req: QueueJobRequest): { jobId: number; runId: number } {
    const job = this.world.queueJob(req);
    this.broker.changed();
    return { jobId: job.id, runId: job.runId };
  }

  /** A `waiting` job (environment approval) becomes `queued`. */
  approveJob(jobId: number): void {
    this.world.approveJob(jobId);
    this.broker.changed();
  }

  /** "Re-run failed jobs": a completed job is queued again in its run, which keeps its `created_at`. */
  rerunJob(jobId: number): void {
    this.world.rerunJob(jobId);
    this.broker.changed();
  }

  /** An org webhook (default: subscribed to `workflow_job`, URL under `.invalid`, active). */
  addOrgHook(opts: { events?: string[]; url?: string; active?: boolean; id?: number } = {}): SimHook {
    return this.world.hooks.addHook(opts);
  }

  /** Deletes an org webhook: its deliveries list answers 404 from now on. */
  deleteOrgHook(id: number): void {
    this.world.hooks.hooks.delete(id);
  }

  /** The GitHub App's own webhook (undefined: none). Needs the `app` option. */
  setAppHook(opts: { events?: string[]; url?: string; active?: boolean } | undefined): void {
    this.world.hooks.setAppHook(opts);
  }

  /**
   * Delivery-log faults (hooks.ts): `delayMs` before a delivery shows in the list, the next `lose`
   * events leave no delivery, the next `throttle` deliveries carry `throttled_at`.
   */
  hookFaults(f: { delayMs?: number; lose?: number; throttle?: number }): void {
    const h = this.world.hooks;
    if (f.delayMs !== undefined) h.delayMs = f.delayMs;
    if (f.lose !== undefined) h.loseNext = f.lose;
    if (f.throttle !== undefined) h.throttleNext = f.throttle;
  }

  /** Cancels a run: its queued/waiting jobs become `completed`/`cancelled`. */
  cancelRun(runId: number): void {
    this.world.cancelRun(runId);
  }

  /** Completes a job without a simulated runner (tests); its runner, if any, is removed. */
  completeJob(jobId: number, result: 'succeeded' | 'failed' | 'cancelled' = 'succeeded'): void {
    this.world.completeJob(jobId, result === 'succeeded' ? 'success' : result === 'failed' ? 'failure' : 'cancelled');
    this.broker.changed();
  }

  /** Accepts one more PAT, of the given kind (default: the `pat` option's). */
  addToken(token: string, kind: PatKind = this.pat): void {
    this.tokens.set(token, { expiresAt: null, grant: kind });
  }

  /** Revokes every token (PATs and installation tokens): all later requests get 401. */
  revokeTokens(): void {
    this.tokens.clear();
  }

  /** The App installation's permissions for tokens issued from now on (as after the org accepts a change). */
  setAppPermissions(permissions: Record<string, PermissionLevel>): void {
    this.appPermissions = { ...permissions };
  }

  /** Lifetime of installation tokens issued from now on. */
  setInstallationTokenTtl(ms: number): void {
    this.installationTokenTtlMs = ms;
  }

  /** Makes every installation token issued so far expire now. */
  expireInstallationTokens(): void {
    for (const t of this.issuedTokens) {
      t.expiresAt = Math.min(t.expiresAt, this.now());
      const held = this.tokens.get(t.token);
      if (held) held.expiresAt = t.expiresAt;
    }
  }

  /** Adds (or replaces) a runner group: an id gets GitHub's defaults (`all`, no public repositories). */
  addRunnerGroup(group: number | RunnerGroupInit): SimRunnerGroup {
    return this.world.addRunnerGroup(typeof group === 'number' ? { id: group } : group);
  }

  // Faults ------------------------------------------------------------------------------------

  /**
   * The next `count` API requests answer `status` (default 502), with `headers` if given. A 429 is
   * a bare "Too Many Requests" (no secondary-limit text, rate headers untouched): what GitHub's
   * load balancers or a proxy in between may send (RFC 6585 §4; GitHub's docs allow 429 for any
   * rate limit: "Rate limits for the REST API", secondary limits).
   */
  failNext(count: number, status = 502, headers?: Record<string, string>): void {
    this.failNextFault = count > 0 ? { status, remaining: count, ...(headers ? { headers } : {}) } : undefined;
  }

  /**
   * Pagination links point at `origin` (e.g. another local server) instead of this server, until
   * cleared with undefined. RFC 8288 lets a `Link` target be any URI, and GitHub's docs tell clients to
   * follow the links as given (https://docs.github.com/en/rest/using-the-rest-api/using-pagination-in-the-rest-api);
   * a reverse proxy in front of GHES that writes its internal host into `Link` does exactly this
   * (audit turn4-security N3). A client that follows them verbatim sends its token there.
   */
  setLinkOrigin(origin: string | undefined): void {
    this.linkOrigin = origin;
  }

  /** While on, every API request answers 502. */
  setOutage(on: boolean): void {
    this.outage = on;
  }

  /** Primary budget exhausted until `resetInSeconds` from now: requests answer 403 (or 429) with remaining 0. */
  exhaustRateLimit(opts: { resetInSeconds: number; status?: 403 | 429 }): void {
    this.rate.remaining = 0;
    this.rate.reset = Math.ceil(this.now() / 1000 + opts.resetInSeconds);
    this.primaryStatus = opts.status ?? 403;
  }

  /** The next `count` requests hit a secondary rate limit (403 + `retry-after`). */
  secondaryRateLimit(opts: { count?: number; retryAfterSeconds?: number; status?: 403 | 429 } = {}): void {
    this.secondary = { remaining: opts.count ?? 1, retryAfterSeconds: opts.retryAfterSeconds ?? 60, status: opts.status ?? 403 };
  }

  /** Enforces (or, with undefined, stops enforcing) a secondary limit by points per minute. */
  setSecondaryPointsLimit(limit: SecondaryPointsLimit | undefined): void {
    this.secondaryPoints = limit;
    this.points.length = 0;
  }

  /** How many requests the points-per-minute secondary limit refused. */
  get secondaryRefusalCount(): number {
    return this.secondaryRefusals;
  }

  /** The runner list shows the world as it was `ms` ago (0: exact). */
  setRunnerListLag(ms: number): void {
    this.world.runnerListLagMs = ms;
  }

  /**
   * The newest runner release. A runner that connects with an older version is sent a refresh and
   * updates itself before it takes a job (the simulated runner: exit 4, offline, reconnect).
   */
  setLatestRunnerVersion(version: string): void {
    this.world.latestRunnerVersion = version;
  }

  /** Sets the primary budget (limit/remaining/reset epoch seconds). */
  setRateLimit(rate: Partial<RateLimitState>): void {
    Object.assign(this.rate, rate);
  }

  // Records -----------------------------------------------------------------------------------

  rateLimit(): RateLimitState {
    this.maybeResetRate();
    return { ...this.rate };
  }

  /** Requests per endpoint, e.g. `{"GET /orgs/{org}/repos": 10}` (304s and errors included). */
  requestCounts(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }

  requestCount(endpoint?: string): number {
    return endpoint === undefined ? this.total : this.counts.get(endpoint) ?? 0;
  }

  get totalRequests(): number {
    return this.total;
  }

  get notModifiedCount(): number {
    return this.notModified;
  }

  /** Requests made with each token (to see which token a client used). */
  requestsByToken(): Map<string, number> {
    return new Map(this.tokenCounts);
  }

  installationTokens(): Array<{ token: string; expiresAt: number }> {
    return this.issuedTokens.map((t) => ({ ...t }));
  }

  /**
   * Calls `listener` once per request (API, broker and token exchange alike) when its response is
   * sent, with the arrival time (world clock), the endpoint name as `requestCounts()` spells it and
   * the status sent (304 included); undefined stops it. The benchmark's request tape.
   */
  setRequestListener(listener: RequestListener | undefined): void {
    this.requestListener = listener;
  }

  resetCounters(): void {
    this.counts.clear();
    this.tokenCounts.clear();
    this.total = 0;
    this.notModified = 0;
  }

  job(jobId: number): JobRecord {
    return toRecord(this.world.mustJob(jobId));
  }

  jobs(): JobRecord[] {
    return [...this.world.jobs.values()].map(toRecord);
  }

  /** queued → in_progress on runner X → completed with result. */
  jobHistory(jobId: number): JobEvent[] {
    return this.world.mustJob(jobId).history.map((e) => ({ ...e }));
  }

  /** Every runner ever created (deleted ones too). */
  runners(): RunnerRecord[] {
    return this.world.runnerRecords();
  }

  // -------------------------------------------------------------------------------------------
  // HTTP

  private maybeResetRate(): void {
    if (this.now() >= this.rate.reset * 1000) {
      this.rate.remaining = this.rate.limit;
      this.rate.reset = Math.floor(this.now() / 1000) + 3600;
    }
  }

  /** Charges a request to the points window; returns the retry-after seconds when it is over the limit. */
  private chargePoints(method: string, route: string): number | undefined {
    const limit = this.secondaryPoints;
    if (!limit) return undefined;
    const now = this.now();
    while (this.points.length > 0 && this.points[0]!.at <= now - 60_000) this.points.shift();
    const key = limit.per === 'all' ? 'all' : route;
    const cost = method === 'GET' || method === 'HEAD' ? 1 : 5;
    const mine = this.points.filter((p) => p.key === key);
    const used = mine.reduce((sum, p) => sum + p.points, 0);
    if (used + cost > limit.pointsPerMinute) {
      return Math.max(1, Math.ceil(((mine[0]?.at ?? now) + 60_000 - now) / 1000));
    }
    this.points.push({ at: now, key, points: cost });
    return undefined;
  }

  private count(name: string, res: ServerResponse): void {
    this.total++;
    this.counts.set(name, (this.counts.get(name) ?? 0) + 1);
    const listener = this.requestListener;
    if (listener) {
      const at = this.now();
      res.once('finish', () => listener({ at, route: name, status: res.statusCode }));
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse, brokerOnly = false): Promise<void> {
    const url = new URL(req.url ?? '/', this.baseUrl || 'http://127.0.0.1');
    const method = (req.method ?? 'GET').toUpperCase();
    const raw = await readBody(req);
    let body: unknown;
    if (raw.length > 0) {
      try {
        body = JSON.parse(raw);
      } catch {
        this.count(`${method} (bad json)`, res);
        return this.send(res, method, errorReply(400, 'Problems parsing JSON'), false);
      }
    }
    if (this.prefix && url.pathname !== this.prefix && !url.pathname.startsWith(`${this.prefix}/`)) {
      // GHES serves its REST API under /api/v3 only; every other path is the web interface, whose
      // answers are HTML pages (https://docs.github.com/en/enterprise-server@3.14/rest/quickstart:
      // "http(s)://HOSTNAME/api/v3"). An api_url without /api/v3 therefore gets HTML, not JSON.
      this.count(`${method} ${url.pathname}`, res);
      res.writeHead(404, { 'content-type': 'text/html; charset=utf-8' });
      res.end(WEB_404_PAGE);
      return;
    }
    const path = url.pathname.slice(this.prefix.length).replace(/\/+$/, '') || '/';
    const ctx: Ctx = { method, url, path, base: this.baseUrl, ...(this.brokerBase ? { brokerBase: this.brokerBase } : {}), headers: req.headers, body };
    if (brokerOnly && !path.startsWith(`${BROKER_PREFIX}/`)) {
      this.count(`${method} (broker listener) ${path}`, res);
      return this.send(res, method, errorReply(404, 'Not Found'), false);
    }

    if (path.startsWith(`${BROKER_PREFIX}/`)) {
      const sub = path.slice(BROKER_PREFIX.length);
      this.count(`${method} ${BROKER_PREFIX}${sub.replace(/\/[0-9a-f]{16}\//, '/{session}/').replace(/\/\d+\//, '/{id}/')}`, res);
      return this.send(res, method, await this.broker.handle(ctx, sub), false);
    }

    const installation = /^\/app\/installations\/(\d+)\/access_tokens$/.exec(path);
    if (method === 'POST' && installation) {
      this.count('POST /app/installations/{installation_id}/access_tokens', res);
      return this.send(res, method, this.installationToken(ctx, Number(installation[1])), false);
    }

    const appHook = path === '/app' ? ['/app', 'app'] : /^\/app\/hook\/(config|deliveries)(?:\/(\d+))?$/.exec(path);
    if (method === 'GET' && appHook) {
      this.count(appHook[1] === 'app' ? 'GET /app' : `GET /app/hook/${appHook[1]}${appHook[2] ? '/{delivery_id}' : ''}`, res);
      if (this.outage) return this.send(res, method, errorReply(502, 'Server Error'), false);
      return this.send(res, method, this.appHookReply(ctx, appHook[1]!, appHook[2]), false, header(ctx, 'if-none-match'), 'app-jwt');
    }

    const matched = path === '/rate_limit' && method === 'GET' ? undefined : matchRoute(method, path);
    const name = path === '/rate_limit' ? 'GET /rate_limit' : matched?.route.name ?? `${method} ${path}`;
    this.count(name, res);

    const token = /^(?:token|bearer)\s+(\S+)$/i.exec(header(ctx, 'authorization') ?? '')?.[1];
    const held = token === undefined ? undefined : this.tokens.get(token);
    if (token === undefined || held === undefined || (held.expiresAt !== null && this.now() >= held.expiresAt)) {
      return this.send(res, method, errorReply(401, 'Bad credentials'), false);
    }
    this.tokenCounts.set(token, (this.tokenCounts.get(token) ?? 0) + 1);
    const grant = held.grant;
    // From here on every response shows what the token is (classic scopes) and what the route accepts.
    const authHeaders = grantHeaders(grant, matched?.route.access);
    const send = (reply: Reply, costs: boolean, ifNoneMatch?: string) =>
      this.send(res, method, { ...reply, headers: { ...authHeaders, ...reply.headers } }, costs, ifNoneMatch, token);

    if (this.outage) return send(errorReply(502, 'Server Error'), false);
    if (this.failNextFault) {
      const f = this.failNextFault;
      if (--f.remaining <= 0) this.failNextFault = undefined;
      const message = f.status === 502 ? 'Server Error' : f.status === 429 ? 'Too Many Requests' : 'Internal Server Error';
      return send({ ...errorReply(f.status, message), ...(f.headers ? { headers: f.headers } : {}) }, false);
    }
    if (this.secondary) {
      const s = this.secondary;
      if (--s.remaining <= 0) this.secondary = undefined;
      const reply = errorReply(s.status, SECONDARY_MESSAGE, {}, '/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits');
      reply.headers = { 'retry-after': String(s.retryAfterSeconds) };
      return send(reply, false);
    }
    const overPoints = this.chargePoints(method, name);
    if (overPoints !== undefined) {
      this.secondaryRefusals++;
      const reply = errorReply(403, SECONDARY_MESSAGE, {}, '/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits');
      reply.headers = { 'retry-after': String(overPoints) };
      return send(reply, false);
    }

    if (path === '/rate_limit' && method === 'GET') {
      this.maybeResetRate();
      const core = { ...this.rate, used: this.rate.limit - this.rate.remaining };
      const other = (limit: number) => ({ limit, remaining: limit, reset: this.rate.reset, used: 0 });
      return send({
        status: 200,
        body: {
          resources: { core, search: other(30), graphql: other(5000), actions_runner_registration: other(10000) },
          rate: core,
        },
        noEtag: true,
      }, false);
    }

    this.maybeResetRate();
    if (this.rate.remaining <= 0) {
      return send(errorReply(this.primaryStatus, 'API rate limit exceeded for user ID 1.', {}, '/overview/rate-limits-for-the-rest-api'), false);
    }
    if (!matched || this.missingEndpoints.has(name)) return send(errorReply(404, 'Not Found'), true);
    const denied = matched.route.access ? deniedReply(grant, matched.route.access) : undefined;
    if (denied) return send(denied, true);

    const reply = matched.route.handler(ctx, matched.params, {
      world: this.world,
      changed: () => this.broker.changed(),
      runnerDeleted: (id) => this.broker.runnerDeleted(id),
    });
    if (reply.status < 300) this.broker.changed();
    return send(reply, true, header(ctx, 'if-none-match'));
  }

  /** `GET /app/hook/config` and `/app/hook/deliveries[/{id}]`, behind the App's JWT (see the header). */
  private appHookReply(ctx: Ctx, what: string, deliveryId: string | undefined): Reply {
    if (!this.app) return errorReply(404, 'Not Found');
    const jwt = /^bearer\s+(\S+)$/i.exec(header(ctx, 'authorization') ?? '')?.[1];
    if (!jwt) return errorReply(401, 'A JSON web token could not be decoded');
    const check = verifyAppJwt(jwt, this.app);
    if (!check.ok) return errorReply(401, check.message);
    const hook = this.world.hooks.appHook;
    // GET /app: the App itself, with the events its webhook is subscribed to (spec schema `integration`).
    if (what === 'app') return { status: 200, body: { id: Number(this.app.appId), slug: 'tart-fleet-sim', name: 'tart-fleet sim', events: hook?.events ?? [], permissions: { ...this.appPermissions } } };
    if (!hook) return errorReply(404, 'Not Found');
    if (what === 'config') return { status: 200, body: { content_type: hook.contentType, insecure_ssl: '0', url: hook.url } };
    const env: RouteEnv = { world: this.world, changed: () => undefined, runnerDeleted: () => undefined };
    return deliveryId === undefined ? deliveriesReply(ctx, env, 'app') : deliveryReply(env, 'app', Number(deliveryId));
  }

  private installationToken(ctx: Ctx, installationId: number): Reply {
    if (!this.app) return errorReply(404, 'Not Found');
    const jwt = /^bearer\s+(\S+)$/i.exec(header(ctx, 'authorization') ?? '')?.[1];
    if (!jwt) return errorReply(401, 'A JSON web token could not be decoded');
    const check = verifyAppJwt(jwt, this.app);
    if (!check.ok) return errorReply(401, check.message);
    if (installationId !== this.app.installationId) return errorReply(404, 'Not Found');
    const token = `ghs_${randomBytes(18).toString('hex')}`;
    const expiresAt = this.now() + this.installationTokenTtlMs;
    const permissions = { ...this.appPermissions };
    this.tokens.set(token, { expiresAt, grant: { kind: 'installation', permissions } });
    this.issuedTokens.push({ token, expiresAt });
    return {
      status: 201,
      body: {
        token,
        expires_at: new Date(expiresAt).toISOString().replace(/\.\d{3}Z$/, 'Z'),
        permissions,
        repository_selection: 'all',
      },
      noEtag: true,
    };
  }

  private send(res: ServerResponse, method: string, reply: Reply, costs: boolean, ifNoneMatch?: string, etagScope = ''): void {
    const headers: Record<string, string> = {
      'x-github-request-id': randomBytes(8).toString('hex').toUpperCase(),
      'x-github-api-version-selected': '2022-11-28',
      ...reply.headers,
    };
    if (this.linkOrigin && headers.link) {
      const origin = this.linkOrigin;
      headers.link = headers.link.replace(/<([^>]+)>/g, (_m, target: string) => {
        const u = new URL(target);
        return `<${origin}${u.pathname}${u.search}>`;
      });
    }
    let payload = reply.body === undefined ? '' : JSON.stringify(reply.body);
    let status = reply.status;
    if (method === 'GET' && status === 200 && !reply.noEtag) {
      // ETags are token-specific on GitHub ("It's currently expected for ETags to be auth token
      // specific", GitHub support in eclipse-csi/otterdog#201; github/docs#34689; audit G1): a new
      // installation token turns every saved ETag into a 200. The scope is hashed, never echoed.
      const etag = weakEtag(etagScope === '' ? payload : `${createHash('sha256').update(etagScope).digest('hex')}\n${payload}`);
      headers.etag = etag;
      headers['cache-control'] = 'private, max-age=60, s-maxage=60';
      if (etagMatches(ifNoneMatch, etag)) {
        status = 304;
        payload = '';
        costs = false;
        this.notModified++;
      }
    }
    if (costs && this.rate.remaining > 0) this.rate.remaining--;
    Object.assign(headers, {
      'x-ratelimit-limit': String(this.rate.limit),
      'x-ratelimit-remaining': String(this.rate.remaining),
      'x-ratelimit-used': String(this.rate.limit - this.rate.remaining),
      'x-ratelimit-reset': String(this.rate.reset),
      'x-ratelimit-resource': 'core',
    });
    if (status === 304 || status === 204) {
      // A 304 lists a link header only when the 200 did, and must not carry a body.
      res.writeHead(status, headers);
      res.end();
      return;
    }
    headers['content-type'] = 'application/json; charset=utf-8';
    const offered = String(res.req?.headers['accept-encoding'] ?? '').toLowerCase();
    const coding = payload.length === 0 ? undefined : /\bgzip\b/.test(offered) ? 'gzip' : /\bbr\b/.test(offered) ? 'br' : undefined;
    if (coding) {
      headers['content-encoding'] = coding;
      headers.vary = 'Accept, Authorization, Cookie, X-GitHub-OTP, Accept-Encoding';
      res.writeHead(status, headers);
      res.end(coding === 'gzip' ? gzipSync(payload) : brotliCompressSync(payload));
      return;
    }
    res.writeHead(status, headers);
    res.end(payload);
  }
}

/** What a GitHub Enterprise Server host answers outside /api/v3: a web page, many lines of HTML. */
const WEB_404_PAGE = [
  '<!DOCTYPE html>',
  '<html lang="en">',
  '<head><meta charset="utf-8"><title>Page not found · GitHub</title></head>',
  '<body>',
  '<div class="container"><h1>404</h1>',
  "<p>This is not the web page you are looking for.</p></div>",
  '</body>',
  '</html>',
  '',
].join('\n');

/** Listens on 127.0.0.1, a free port, with GitHub's keep-alive. */
async function listenLocal<S extends Server>(server: S): Promise<S> {
  // GitHub closes idle keep-alive connections after about 60 s (sourcegraph/sourcegraph-public-snapshot#4345).
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return server;
}

/** Headers that show what a token is and what the route accepts, as GitHub sends them. */
function grantHeaders(grant: Grant, access: RouteAccess | undefined): Record<string, string> {
  if (grant.kind === 'classic') {
    return { 'x-oauth-scopes': grant.scopes.join(', '), ...(access?.scope ? { 'x-accepted-oauth-scopes': access.scope } : {}) };
  }
  return access ? { 'x-accepted-github-permissions': `${access.permission}=${access.level}` } : {};
}

/** The 403 for a token lacking the route's access, or undefined when it may go on. */
function deniedReply(grant: Grant, access: RouteAccess): Reply | undefined {
  if (grant.kind === 'classic') {
    if (access.scope === undefined || grant.scopes.includes(access.scope)) return undefined;
    return errorReply(403, 'Must have admin rights to Repository.', {}, '/actions/self-hosted-runners');
  }
  if (grant.permissions === undefined) return undefined;
  if ((LEVEL_RANK[grant.permissions[access.permission] ?? ''] ?? 0) >= (LEVEL_RANK[access.level] ?? 0)) return undefined;
  const who = grant.kind === 'installation' ? 'integration' : 'personal access token';
  return errorReply(403, `Resource not accessible by ${who}`, {}, access.permission === 'actions' ? '/actions/workflow-runs' : '/actions/self-hosted-runners');
}

function toRecord(j: SimJob): JobRecord {
  return {
    id: j.id,
    runId: j.runId,
    repo: j.repo.fullName,
    name: j.name,
    labels: [...j.labels],
    status: j.status,
    conclusion: j.conclusion,
    runnerName: j.runnerName,
    history: j.history.map((e) => ({ ...e })),
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
