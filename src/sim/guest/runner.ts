/**
 * The simulated `actions/runner` in JIT run-once mode: decodes the encoded JIT config, opens a session
 * on the fake GitHub's broker, waits for one job, "runs" it and reports it complete, then exits.
 *
 * Broker protocol (served by src/sim/github*, all calls `Authorization: Bearer <credentials secret>`,
 * relative to the `.runner` file's `serverUrl`):
 * - `POST /_sim/broker/sessions` `{"runnerId": agentId, "version"}` → 200/201 `{"sessionId"}`; 409
 *   session conflict; 404 runner gone.
 * - `GET /_sim/broker/sessions/{sessionId}/message?wait_ms=2000` → 200 `{"job": {id, name, repo,
 *   duration_ms}}`, 200 `{"refresh": {"version"}}` (update yourself), 204 nothing yet, 404 runner gone.
 * - `DELETE /_sim/broker/sessions/{sessionId}` when the listener exits to update.
 * - `POST /_sim/broker/jobs/{id}/complete` `{"result": "succeeded"}`.
 *
 * ## Lifecycle
 * `runSimulatedRunner` resolves with why the runner exited (never rejects); `signal` abandons it at
 * once (hard power-off of the guest).
 *
 * ## Gotchas
 * - The JIT config and the secret inside it are never logged; a JSON parse error is not quoted
 *   either, because V8 puts a snippet of the input into the message.
 * - Network errors and 5xx are retried with a short capped backoff forever (the fake GitHub may
 *   have an injected outage); only 404/409/401/403 end the runner, as in the real listener.
 * - Output lines copy the real runner's stdout markers (facts §10) so logs read the same.
 * - Self-update (audit B2): JIT runners cannot disable updates. When the broker answers a refresh
 *   (the fake GitHub's latest release is newer than `version`), the runner "downloads" for
 *   `update.downloadMs` while online and idle, ends its session, "exits 4" and is restarted by
 *   run.sh: `offline` for `update.offlineMs` (real: 10–30 s; not divided by the sim speed, because the
 *   daemon's ticks are not either), then it connects again at the new version and takes a job. Turn it
 *   on with `FakeGitHub.setLatestRunnerVersion('2.337.0')` (or the `latestRunnerVersion` option); set
 *   the gap through `TART_SIM_RUNNER_UPDATE_OFFLINE_MS` for guests (`runnerOptionsFromEnv`).
 */
import { setTimeout as delay } from 'node:timers/promises';

export interface JitRunnerSettings {
  agentId: number;
  agentName: string;
  poolId?: number;
  serverUrl: string;
  secret: string;
}

export type RunnerExit =
  | 'completed'
  | 'not-configured'
  | 'session-conflict'
  | 'runner-gone'
  | 'unauthorized'
  | 'aborted';

export interface SimulatedRunnerOptions {
  encodedJitConfig: string;
  log: (line: string) => void;
  /** Divides job durations (TART_SIM_SPEED). */
  speed: number;
  /** The job never finishes (TART_SIM_JOB_HANG=1). */
  jobHangs: boolean;
  signal: AbortSignal;
  /** Long-poll wait asked of the broker. */
  waitMs?: number;
  /** The runner version it reports (default DEFAULT_RUNNER_VERSION, the image's pin). */
  version?: string;
  /** How a self-update goes (see the header). */
  update?: RunnerUpdateTiming;
}

export interface RunnerUpdateTiming {
  /** Online and idle while it downloads the new runner (default 2000 ms). */
  downloadMs?: number;
  /** Offline between the exit 4 and the restarted listener's session (default 15000 ms; real 10–30 s). */
  offlineMs?: number;
}

/** The runner version images/scripts/30-actions-runner.sh pins. */
export const DEFAULT_RUNNER_VERSION = '2.336.0';
const DEFAULT_DOWNLOAD_MS = 2000;
const DEFAULT_OFFLINE_MS = 15_000;

/**
 * Runner options from a guest's environment: `TART_SIM_RUNNER_VERSION`,
 * `TART_SIM_RUNNER_UPDATE_DOWNLOAD_MS`, `TART_SIM_RUNNER_UPDATE_OFFLINE_MS` (unset: the defaults).
 */
export function runnerOptionsFromEnv(env: NodeJS.ProcessEnv): Pick<SimulatedRunnerOptions, 'version' | 'update'> {
  const ms = (v: string | undefined): number | undefined => {
    const n = Number(v);
    return v !== undefined && v !== '' && Number.isFinite(n) && n >= 0 ? n : undefined;
  };
  const update: RunnerUpdateTiming = {};
  const downloadMs = ms(env.TART_SIM_RUNNER_UPDATE_DOWNLOAD_MS);
  const offlineMs = ms(env.TART_SIM_RUNNER_UPDATE_OFFLINE_MS);
  if (downloadMs !== undefined) update.downloadMs = downloadMs;
  if (offlineMs !== undefined) update.offlineMs = offlineMs;
  return { ...(env.TART_SIM_RUNNER_VERSION ? { version: env.TART_SIM_RUNNER_VERSION } : {}), update };
}

function b64json(text: string): unknown {
  return JSON.parse(Buffer.from(text, 'base64').toString('utf8')) as unknown;
}

/** Decodes an encoded JIT config; throws a message-free-of-secrets Error when it is not one. */
export function decodeJitConfig(encoded: string): JitRunnerSettings {
  let outer: unknown;
  let runner: unknown;
  let creds: unknown;
  try {
    outer = b64json(encoded.trim());
    const files = outer as Record<string, unknown>;
    if (typeof files['.runner'] !== 'string' || typeof files['.credentials'] !== 'string') throw new Error('x');
    runner = b64json(files['.runner']);
    creds = b64json(files['.credentials']);
  } catch {
    throw new Error('the JIT config is not base64 JSON with .runner and .credentials entries');
  }
  const r = runner as Record<string, unknown>;
  const c = creds as { data?: Record<string, unknown> };
  const secret = c.data?.secret;
  if (typeof r.agentId !== 'number' || typeof r.serverUrl !== 'string' || typeof secret !== 'string') {
    throw new Error('the JIT config lacks agentId, serverUrl or the credentials secret');
  }
  const out: JitRunnerSettings = {
    agentId: r.agentId,
    agentName: typeof r.agentName === 'string' ? r.agentName : `runner-${r.agentId}`,
    serverUrl: r.serverUrl.replace(/\/+$/, ''),
    secret,
  };
  if (typeof r.poolId === 'number') out.poolId = r.poolId;
  return out;
}

class Aborted extends Error {}

/** Runs the simulated runner to its end; resolves with the reason it exited. */
export async function runSimulatedRunner(opts: SimulatedRunnerOptions): Promise<RunnerExit> {
  const stamp = () => `${new Date().toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z')}: `;
  let settings: JitRunnerSettings;
  try {
    settings = decodeJitConfig(opts.encodedJitConfig);
  } catch (err) {
    opts.log(`An error occurred: Runner is not configured. (${(err as Error).message})`);
    return 'not-configured';
  }
  try {
    return await lifecycle(opts, settings, stamp);
  } catch (err) {
    if (err instanceof Aborted || opts.signal.aborted) return 'aborted';
    throw err;
  }
}

async function lifecycle(
  opts: SimulatedRunnerOptions,
  s: JitRunnerSettings,
  stamp: () => string,
): Promise<RunnerExit> {
  const { signal } = opts;
  const headers = { authorization: `Bearer ${s.secret}`, 'content-type': 'application/json' };
  let failures = 0;

  /** One HTTP call; retried on network errors and 5xx/429 until it answers something else. */
  const call = async (method: string, path: string, body?: unknown, timeoutMs = 10_000): Promise<Response> => {
    for (;;) {
      if (signal.aborted) throw new Aborted();
      try {
        const init: RequestInit = {
          method,
          headers,
          signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
        };
        if (body !== undefined) init.body = JSON.stringify(body);
        const res = await fetch(`${s.serverUrl}${path}`, init);
        if (res.status < 500 && res.status !== 429) {
          failures = 0;
          return res;
        }
        await res.body?.cancel();
        if (failures === 0) opts.log(`${stamp()}GitHub Actions service answered ${res.status}, retrying`);
      } catch (err) {
        if (signal.aborted) throw new Aborted();
        if (failures === 0) opts.log(`${stamp()}Failed to reach GitHub Actions service (${(err as Error).message}), retrying`);
      }
      failures++;
      await sleep(Math.min(2000, 100 * 2 ** Math.min(failures - 1, 5)), signal);
    }
  };
  const fatal = async (res: Response): Promise<RunnerExit | undefined> => {
    if (res.status === 404) {
      opts.log(`${stamp()}The runner no longer exists on the server. Cleaning up local configuration.`);
      return 'runner-gone';
    }
    if (res.status === 401 || res.status === 403) {
      opts.log(`${stamp()}Http response code: ${res.status} from the GitHub Actions service. Exiting runner...`);
      return 'unauthorized';
    }
    return undefined;
  };

  let version = opts.version ?? DEFAULT_RUNNER_VERSION;
  /** Opens a session (the runner is online); an exit reason when that fails. */
  const openSession = async (): Promise<{ sessionId: string } | { exit: RunnerExit }> => {
    const session = await call('POST', '/_sim/broker/sessions', { runnerId: s.agentId, version });
    if (session.status === 409) {
      opts.log(`${stamp()}A session for this runner already exists.`);
      return { exit: 'session-conflict' };
    }
    const sessionEnd = await fatal(session);
    if (sessionEnd) return { exit: sessionEnd };
    if (session.status !== 200 && session.status !== 201) {
      opts.log(`${stamp()}Unexpected answer ${session.status} creating the session. Exiting runner...`);
      return { exit: 'unauthorized' };
    }
    const { sessionId } = (await session.json()) as { sessionId?: unknown };
    opts.log('√ Connected to GitHub');
    opts.log(`Current runner version: '${version}'`);
    opts.log(`${stamp()}Listening for Jobs`);
    return { sessionId: String(sessionId) };
  };
  let opened = await openSession();
  if ('exit' in opened) return opened.exit;
  let sessionId = opened.sessionId;

  const waitMs = opts.waitMs ?? 2000;
  for (;;) {
    const res = await call('GET', `/_sim/broker/sessions/${encodeURIComponent(sessionId)}/message?wait_ms=${waitMs}`, undefined, waitMs + 10_000);
    const end = await fatal(res);
    if (end) return end;
    if (res.status !== 200) {
      await res.body?.cancel();
      continue; // 204: no job yet
    }
    const msg = (await res.json().catch(() => ({}))) as { job?: { id: number | string; name?: string; duration_ms?: number }; refresh?: { version?: string } };
    if (msg.refresh?.version) {
      // The real listener's self-update (Runner.cs): download, exit 4, run.sh restarts it.
      const target = msg.refresh.version;
      opts.log(`${stamp()}Runner update in progress, do not shutdown runner.`);
      opts.log(`${stamp()}Downloading ${target} runner`);
      await sleep(opts.update?.downloadMs ?? DEFAULT_DOWNLOAD_MS, signal);
      opts.log(`${stamp()}Runner will exit shortly for update, should be back online within 10 seconds.`);
      const ended = await call('DELETE', `/_sim/broker/sessions/${encodeURIComponent(sessionId)}`);
      await ended.body?.cancel();
      opts.log('Runner listener exit with 4 return code, runner update in progress.');
      await sleep(opts.update?.offlineMs ?? DEFAULT_OFFLINE_MS, signal);
      opts.log('Runner update finished. Restarting runner...');
      version = target;
      opened = await openSession();
      if ('exit' in opened) return opened.exit;
      sessionId = opened.sessionId;
      continue;
    }
    const job = msg.job;
    if (!job) continue;
    const name = job.name ?? String(job.id);
    opts.log(`${stamp()}Running job: ${name}`);
    if (opts.jobHangs) await sleep(Number.MAX_SAFE_INTEGER, signal);
    await sleep(Math.max(0, (job.duration_ms ?? 0) / opts.speed), signal);
    const done = await call('POST', `/_sim/broker/jobs/${encodeURIComponent(String(job.id))}/complete`, { result: 'succeeded' });
    await done.body?.cancel();
    if (done.status === 404) {
      opts.log(`${stamp()}Job ${name} completed with result: Succeeded (the server no longer knows the job)`);
    } else {
      opts.log(`${stamp()}Job ${name} completed with result: Succeeded`);
    }
    opts.log('Exiting runner...');
    return 'completed';
  }
}

/** Abortable sleep; long waits are chunked because timers cap at 2^31-1 ms. */
async function sleep(ms: number, signal: AbortSignal): Promise<void> {
  let left = ms;
  while (left > 0) {
    const step = Math.min(left, 2 ** 31 - 1);
    try {
      await delay(step, undefined, { signal });
    } catch {
      throw new Aborted();
    }
    left -= step;
  }
}
