/**
 * The Actions "broker" of the fake GitHub: the runner side of the protocol, spoken by the simulated
 * runner in a guest (src/sim/guest/). It stands in for the real Actions service sessions and message
 * queue; only the shape of the JIT config is faithful to GitHub, the three endpoints are our own.
 *
 * ## Protocol (keep exactly; the simulated runner is written against it)
 *
 * JIT config: `encoded_jit_config` = base64(JSON{
 *     ".runner":      base64(JSON{agentId, agentName, poolId, poolName, serverUrl, gitHubUrl, workFolder, ephemeral}),
 *     ".credentials": base64(JSON{scheme: "OAuth", data: {clientId, secret}})
 *   })
 * `serverUrl` is the fake's base URL (the `api_url`, including a GHES `/api/v3` prefix if any) and
 * `agentId` the runner id. Every broker call sends `Authorization: Bearer <secret>`; a wrong secret is
 * 401 `{"message":"Bad credentials"}`.
 *
 * 1. `POST {serverUrl}/_sim/broker/sessions`, body `{"runnerId": <agentId>, "version"?: "2.336.0"}`
 *      201 `{"sessionId": "<id>", "runnerId": n}` — the runner is now `online`; from now on it reports
 *          `os: "macos"` and its `version` (default 2.336.0; before: `os: "unknown"`, `version: ""`,
 *          `status: "offline"`).
 *      409 `{"message":"A session for this runner already exists."}` (SessionConflict: config used twice)
 *      404 `{"message":"runner no longer exists"}` when the runner was deleted.
 * 2. `GET {serverUrl}/_sim/broker/sessions/{sessionId}/message?wait_ms=N` — long poll, N capped at
 *    30000 (default 2000):
 *      200 `{"refresh": {"version": "<latest>"}}` first, when the runner's version is older than the
 *          fake's latest (`latestRunnerVersion`): the real service's RunnerRefresh message. The runner
 *          gets no job until it reconnects with that version (it downloads, ends its session, exits 4
 *          and `run.sh` restarts it: audit B2),
 *      200 `{"job": {"id", "name", "repo", "duration_ms"}}` once a job is assigned to this runner
 *          (delivered once; later polls answer 204 while it runs),
 *      204 (no body) when nothing came within N ms,
 *      404 `{"message":"runner no longer exists"}` if the runner was deleted (then exit 0, as the real
 *          listener does after "The runner no longer exists on the server").
 * 3. `DELETE {serverUrl}/_sim/broker/sessions/{sessionId}` — the listener exits (e.g. to update): 204,
 *    the runner is `offline` until it opens a new session (the real listener deletes its session on
 *    the way out).
 * 4. `POST {serverUrl}/_sim/broker/jobs/{job_id}/complete`, body `{"result": "succeeded"|"failed"}`
 *      200 `{"ok": true}` — the job is `completed` (conclusion `success`/`failure`) and the JIT runner
 *          is removed (ephemeral, as GitHub does). 404 if the job is not this runner's.
 *
 * Assignment is GitHub's (state.ts): an idle runner with a session takes the **oldest** queued job
 * whose labels it has, not necessarily the job it was created for; `waiting` jobs are never assigned.
 *
 * ## Gotchas
 * - Broker calls do not count against the REST rate limit and ignore fault injection (they are the
 *   Actions service, not api.github.com); they are still counted in the request records.
 */
import { randomBytes } from 'node:crypto';
import { type Ctx, type Reply, errorReply, header } from './http.js';
import { type SimRunner, type WorldState, RUNNER_VERSION, versionOlder } from './state.js';

export const BROKER_PREFIX = '/_sim/broker';
const MAX_WAIT_MS = 30_000;
const DEFAULT_WAIT_MS = 2_000;

export interface JitRunnerFile {
  agentId: number;
  agentName: string;
  poolId: number;
  poolName: string;
  serverUrl: string;
  gitHubUrl: string;
  workFolder: string;
  ephemeral: boolean;
}

export interface JitCredentialsFile {
  scheme: 'OAuth';
  data: { clientId: string; secret: string };
}

const b64json = (v: unknown): string => Buffer.from(JSON.stringify(v), 'utf8').toString('base64');

export function encodeJitConfig(runner: SimRunner, serverUrl: string): string {
  const dotRunner: JitRunnerFile = {
    agentId: runner.id,
    agentName: runner.name,
    poolId: runner.groupId,
    poolName: runner.groupId === 1 ? 'Default' : `group-${runner.groupId}`,
    serverUrl,
    gitHubUrl: 'https://github.com',
    workFolder: '_work',
    ephemeral: true,
  };
  const creds: JitCredentialsFile = { scheme: 'OAuth', data: { clientId: `client-${runner.id}`, secret: runner.secret } };
  return b64json({ '.runner': b64json(dotRunner), '.credentials': b64json(creds) });
}

/** Decodes a JIT config made by `encodeJitConfig` (for tests and the simulated runner). */
export function decodeJitConfig(encoded: string): { runner: JitRunnerFile; credentials: JitCredentialsFile } {
  const outer = JSON.parse(Buffer.from(encoded, 'base64').toString('utf8')) as Record<string, string>;
  const dec = (k: string) => JSON.parse(Buffer.from(outer[k] ?? '', 'base64').toString('utf8'));
  return { runner: dec('.runner') as JitRunnerFile, credentials: dec('.credentials') as JitCredentialsFile };
}

interface Waiter {
  resolve: (r: Reply) => void;
  timer: NodeJS.Timeout;
}

export class Broker {
  private readonly sessions = new Map<string, number>(); // sessionId -> runnerId
  private readonly waiters = new Map<string, Set<Waiter>>();
  /** Sessions that were already sent their refresh (update) message. */
  private readonly refreshed = new Set<string>();

  constructor(private readonly world: WorldState) {}

  /** Runs GitHub's assignment and wakes the long polls of runners that got a job. */
  changed(): void {
    for (const runner of this.world.assign()) {
      if (runner.sessionId) this.wake(runner.sessionId);
    }
  }

  /** Ends the runner's session: pending long polls answer 404. */
  runnerDeleted(runnerId: number): void {
    for (const [sid, rid] of this.sessions) {
      if (rid === runnerId) this.wake(sid);
    }
  }

  /** Answers every pending long poll (e.g. on shutdown). */
  close(): void {
    for (const sid of this.waiters.keys()) this.wake(sid, { status: 204, noEtag: true });
  }

  async handle(ctx: Ctx, sub: string): Promise<Reply> {
    const auth = header(ctx, 'authorization') ?? '';
    const secret = /^Bearer\s+(.+)$/i.exec(auth)?.[1]?.trim();
    if (!secret) return errorReply(401, 'Bad credentials');

    if (ctx.method === 'POST' && sub === '/sessions') {
      const req = (ctx.body ?? {}) as { runnerId?: unknown; version?: unknown };
      const runnerId = Number(req.runnerId);
      const runner = this.world.runners.get(runnerId);
      if (!runner) return errorReply(404, 'runner no longer exists');
      if (runner.secret !== secret) return errorReply(401, 'Bad credentials');
      if (runner.deletedAt !== null) return errorReply(404, 'runner no longer exists');
      if (runner.sessionId !== null) return errorReply(409, 'A session for this runner already exists.');
      const sessionId = randomBytes(8).toString('hex');
      runner.sessionId = sessionId;
      runner.everConnected = true;
      runner.version = typeof req.version === 'string' && req.version !== '' ? req.version : RUNNER_VERSION;
      runner.updating = versionOlder(runner.version, this.world.latestRunnerVersion);
      this.world.observe(runner);
      this.sessions.set(sessionId, runner.id);
      this.changed();
      return { status: 201, body: { sessionId, runnerId: runner.id }, noEtag: true };
    }

    const end = /^\/sessions\/([^/]+)$/.exec(sub);
    if (ctx.method === 'DELETE' && end) {
      const sessionId = decodeURIComponent(end[1]!);
      const runner = this.runnerOfSession(sessionId);
      if (!runner) return errorReply(404, 'Not Found');
      if (runner.secret !== secret) return errorReply(401, 'Bad credentials');
      this.wake(sessionId, { status: 204, noEtag: true });
      this.sessions.delete(sessionId);
      this.refreshed.delete(sessionId);
      if (runner.sessionId === sessionId) {
        runner.sessionId = null;
        this.world.observe(runner);
      }
      return { status: 204, noEtag: true };
    }

    const msg = /^\/sessions\/([^/]+)\/message$/.exec(sub);
    if (ctx.method === 'GET' && msg) {
      const sessionId = decodeURIComponent(msg[1]!);
      const runner = this.runnerOfSession(sessionId);
      if (!runner) return errorReply(404, 'runner no longer exists');
      if (runner.secret !== secret) return errorReply(401, 'Bad credentials');
      const now = this.poll(runner, sessionId);
      if (now) return now;
      const raw = Number(ctx.url.searchParams.get('wait_ms') ?? DEFAULT_WAIT_MS);
      const waitMs = Number.isFinite(raw) && raw >= 0 ? Math.min(raw, MAX_WAIT_MS) : DEFAULT_WAIT_MS;
      if (waitMs === 0) return { status: 204, noEtag: true };
      return new Promise<Reply>((resolve) => {
        const set = this.waiters.get(sessionId) ?? new Set<Waiter>();
        this.waiters.set(sessionId, set);
        const w: Waiter = {
          resolve: (r) => {
            clearTimeout(w.timer);
            set.delete(w);
            resolve(r);
          },
          timer: setTimeout(() => w.resolve(this.poll(runner, sessionId) ?? { status: 204, noEtag: true }), waitMs),
        };
        set.add(w);
      });
    }

    const done = /^\/jobs\/(\d+)\/complete$/.exec(sub);
    if (ctx.method === 'POST' && done) {
      const job = this.world.jobs.get(Number(done[1]));
      const runner = job?.runnerId == null ? undefined : this.world.runners.get(job.runnerId);
      if (!job || !runner || job.status !== 'in_progress') return errorReply(404, 'Not Found');
      if (runner.secret !== secret) return errorReply(401, 'Bad credentials');
      const result = (ctx.body as { result?: unknown } | undefined)?.result;
      if (result !== 'succeeded' && result !== 'failed') return errorReply(422, 'result must be "succeeded" or "failed"');
      this.world.completeJob(job.id, result === 'succeeded' ? 'success' : 'failure');
      this.changed();
      return { status: 200, body: { ok: true }, noEtag: true };
    }
    return errorReply(404, 'Not Found');
  }

  /** What a poll answers right now, or undefined to keep waiting. */
  private poll(runner: SimRunner, sessionId: string): Reply | undefined {
    if (runner.deletedAt !== null) return errorReply(404, 'runner no longer exists');
    if (runner.updating && runner.sessionId === sessionId && !this.refreshed.has(sessionId)) {
      this.refreshed.add(sessionId);
      return { status: 200, body: { refresh: { version: this.world.latestRunnerVersion } }, noEtag: true };
    }
    if (runner.jobId !== null && !runner.jobDelivered) {
      const job = this.world.jobs.get(runner.jobId)!;
      runner.jobDelivered = true;
      return { status: 200, body: { job: { id: job.id, name: job.name, repo: job.repo.fullName, duration_ms: job.durationMs } }, noEtag: true };
    }
    return undefined;
  }

  /** The runner a session belongs to; undefined for an unknown session or a runner since deleted. */
  private runnerOfSession(sessionId: string): SimRunner | undefined {
    const runnerId = this.sessions.get(sessionId);
    return runnerId === undefined ? undefined : this.world.runners.get(runnerId);
  }

  private wake(sessionId: string, reply?: Reply): void {
    const set = this.waiters.get(sessionId);
    if (!set) return;
    const runner = this.runnerOfSession(sessionId);
    for (const w of [...set]) {
      const r = reply ?? (runner ? this.poll(runner, sessionId) : errorReply(404, 'runner no longer exists'));
      if (r) w.resolve(r);
    }
    if (set.size === 0) this.waiters.delete(sessionId);
  }
}
