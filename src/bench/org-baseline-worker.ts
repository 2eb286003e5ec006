/**
 * The baseline half of the org-scale bench, in a worker thread: its own fake GitHub (primary limit
 * 5,000 an hour, as a token has), the same org and job schedule as tart-fleet's, the naive poller
 * (naive-poller.ts) and the scenario driver. A worker so that the baseline's request storm runs on
 * its own event loop and does not slow the fake GitHub the daemon talks to.
 *
 * Protocol: workerData is `BaselineInput`; the worker posts `{ type: 'ready' }` once the org is set
 * up, waits for `{ type: 'go', windowStart, windowEnd }`, and posts `{ type: 'result', result }`
 * (a `BaselineResult`) after the window.
 *
 * Jobs it finds: each completes after the same simulated boot and duration as in tart-fleet's world
 * (it runs no VMs; the driver completes the job), so its runs leave the queued/in-progress lists as
 * they would. A job it never finds stays queued, as it would on GitHub.
 *
 * ## Gotchas
 * - The poller starts at the window start with nothing cached, which is its steady state.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { FakeGitHub, type RequestEvent } from '../sim/github/server.js';
import { NaivePoller, type SweepRecord } from './naive-poller.js';
import { OrgDriver, addOrgRepos, type PlayedJob } from './org-driver.js';
import { type OrgSchedule, profileLabels } from './org-schedule.js';
import { type RequestSummary, summariseRequests } from './org-stats.js';

export interface BaselineInput {
  schedule: OrgSchedule;
  intervalMs: number;
  /** Simulated time speed-up (job durations are divided by it), as in tart-fleet's world. */
  speed: number;
  bootMs: number;
  rateLimitPerHour: number;
}

export interface BaselineResult {
  requests: RequestSummary;
  sweeps: SweepRecord[];
  /** Every job played, with when the poller first saw it queued (undefined: never). */
  jobs: Array<PlayedJob & { seenAt: number | undefined }>;
}

const ORG = 'bench-org';
const TOKEN = 'ghp_benchbaseline0123456789abcdefghijkl';

async function main(): Promise<void> {
  const input = workerData as BaselineInput;
  const port = parentPort;
  if (!port) throw new Error('org-baseline-worker runs as a worker thread');
  const fake = new FakeGitHub({ org: ORG, tokens: [TOKEN], rateLimit: { limit: input.rateLimitPerHour } });
  const apiUrl = await fake.start();
  const tape: RequestEvent[] = [];
  fake.setRequestListener((e) => tape.push(e));
  const go = new Promise<{ windowStart: number; windowEnd: number }>((resolve) => {
    port.once('message', (m: { type: string; windowStart: number; windowEnd: number }) => resolve(m));
  });
  port.postMessage({ type: 'ready' });
  const { windowStart, windowEnd } = await go;
  addOrgRepos(fake, input.schedule, windowStart);

  const driver = new OrgDriver(fake, input.schedule, profileLabels);
  const completions: NodeJS.Timeout[] = [];
  const poller = new NaivePoller({
    apiUrl,
    org: ORG,
    token: TOKEN,
    intervalMs: input.intervalMs,
    onQueuedJob: (jobId) => {
      const durationMs = (driver.played.find((p) => p.jobId === jobId)?.durationS ?? 60) * 1000;
      completions.push(setTimeout(() => {
        if (fake.job(jobId).status !== 'completed') fake.completeJob(jobId);
      }, input.bootMs + durationMs / input.speed));
    },
  });
  const stop = new AbortController();
  await new Promise((r) => setTimeout(r, Math.max(0, windowStart - Date.now())));
  driver.start(windowStart);
  const running = poller.run(stop.signal);
  await new Promise((r) => setTimeout(r, Math.max(0, windowEnd - Date.now())));
  stop.abort();
  driver.stop();
  for (const t of completions) clearTimeout(t);
  await running;
  fake.setRequestListener(undefined);
  await fake.stop();
  const result: BaselineResult = {
    requests: summariseRequests(tape, windowStart, windowEnd),
    sweeps: poller.sweeps,
    jobs: driver.played.map((p) => ({ ...p, seenAt: poller.firstSeenQueued.get(p.jobId) })),
  };
  port.postMessage({ type: 'result', result });
}

main().catch((err: unknown) => {
  parentPort?.postMessage({ type: 'error', error: (err as Error).stack ?? String(err) });
});
