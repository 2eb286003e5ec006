/**
 * The REST endpoints of the fake GitHub that tart-fleet uses (facts sheet §5, §6): repositories,
 * workflow runs, jobs, org runners, generate-jitconfig and runner deletion. Authentication, rate
 * limits, fault injection and ETags are the server's business (server.ts); routes only read and
 * change the world.
 *
 * ## Gotchas
 * - Runs are listed newest first, as GitHub does; `status=` filters on the run's derived status or,
 *   for conclusion values (`success`, `failure`, `cancelled`), on its conclusion.
 * - `generate-jitconfig` answers 409 `Already exists - A runner with the name <name> already exists.`
 *   while a runner with that name exists (deleted runners free their name, as on GitHub).
 */
import { randomBytes } from 'node:crypto';
import { type Ctx, type Reply, errorReply, json, pagedReply } from './http.js';
import { jobJson, repoJson, runJson, runnerJson } from './shapes.js';
import type { SimRepo, WorldState } from './state.js';
import { encodeJitConfig } from './broker.js';

export interface RouteEnv {
  world: WorldState;
  runnerGroupIds: Set<number>;
  /** Called after the world changed in a way that may let the broker assign jobs. */
  changed(): void;
  /** Called with a runner that was deleted, so the broker can end its session. */
  runnerDeleted(runnerId: number): void;
}

type Handler = (ctx: Ctx, m: string[], env: RouteEnv) => Reply;

interface Route {
  method: string;
  /** Endpoint name for request counting, e.g. `GET /orgs/{org}/repos`. */
  name: string;
  re: RegExp;
  handler: Handler;
}

const seg = '([^/]+)';

function repoOf(env: RouteEnv, owner: string, name: string): SimRepo | undefined {
  return env.world.repos.get(`${decodeURIComponent(owner)}/${decodeURIComponent(name)}`);
}

function orgOk(env: RouteEnv, org: string): boolean {
  return decodeURIComponent(org).toLowerCase() === env.world.org.toLowerCase();
}

const notFound = () => errorReply(404, 'Not Found');

function sortRepos(ctx: Ctx, repos: SimRepo[]): SimRepo[] {
  const sort = ctx.url.searchParams.get('sort') ?? 'created';
  const dirDefault = sort === 'full_name' ? 'asc' : 'desc';
  const dir = (ctx.url.searchParams.get('direction') ?? dirDefault) === 'asc' ? 1 : -1;
  const key = (r: SimRepo): number | string =>
    sort === 'full_name' ? r.fullName : sort === 'pushed' ? r.pushedAt : sort === 'updated' ? r.updatedAt : r.createdAt;
  return [...repos].sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    const c = ka < kb ? -1 : ka > kb ? 1 : a.id - b.id;
    return c * dir;
  });
}

const CONCLUSIONS = new Set(['success', 'failure', 'cancelled', 'neutral', 'skipped', 'timed_out', 'action_required', 'stale']);

export const ROUTES: Route[] = [
  {
    method: 'GET', name: 'GET /orgs/{org}/repos', re: new RegExp(`^/orgs/${seg}/repos$`),
    handler: (ctx, [org], env) => {
      if (!orgOk(env, org!)) return notFound();
      const repos = [...env.world.repos.values()].filter((r) => r.owner.toLowerCase() === env.world.org.toLowerCase());
      return pagedReply(ctx, sortRepos(ctx, repos).map((r) => repoJson(r, ctx.base)));
    },
  },
  {
    method: 'GET', name: 'GET /installation/repositories', re: /^\/installation\/repositories$/,
    handler: (ctx, _m, env) => {
      const repos = [...env.world.repos.values()].sort((a, b) => a.id - b.id);
      const reply = pagedReply(ctx, repos.map((r) => repoJson(r, ctx.base)), 'repositories');
      (reply.body as Record<string, unknown>).repository_selection = 'all';
      return reply;
    },
  },
  {
    method: 'GET', name: 'GET /repos/{owner}/{repo}/actions/runs', re: new RegExp(`^/repos/${seg}/${seg}/actions/runs$`),
    handler: (ctx, [o, r], env) => {
      const repo = repoOf(env, o!, r!);
      if (!repo) return notFound();
      const status = ctx.url.searchParams.get('status');
      const runs = [...env.world.runs.values()]
        .filter((run) => run.repo === repo)
        .filter((run) => {
          if (!status) return true;
          const s = env.world.runStatus(run);
          return CONCLUSIONS.has(status) ? s.conclusion === status : s.status === status;
        })
        .sort((a, b) => b.createdAt - a.createdAt || b.id - a.id);
      return pagedReply(ctx, runs.map((run) => runJson(env.world, run, ctx.base)), 'workflow_runs');
    },
  },
  {
    method: 'GET', name: 'GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs',
    re: new RegExp(`^/repos/${seg}/${seg}/actions/runs/(\\d+)/jobs$`),
    handler: (ctx, [o, r, runId], env) => {
      const repo = repoOf(env, o!, r!);
      const run = env.world.runs.get(Number(runId));
      if (!repo || !run || run.repo !== repo) return notFound();
      const jobs = run.jobIds.map((id) => env.world.jobs.get(id)!);
      return pagedReply(ctx, jobs.map((j) => jobJson(j, ctx.base)), 'jobs');
    },
  },
  {
    method: 'GET', name: 'GET /repos/{owner}/{repo}/actions/jobs/{job_id}',
    re: new RegExp(`^/repos/${seg}/${seg}/actions/jobs/(\\d+)$`),
    handler: (ctx, [o, r, jobId], env) => {
      const repo = repoOf(env, o!, r!);
      const job = env.world.jobs.get(Number(jobId));
      if (!repo || !job || job.repo !== repo) return notFound();
      return json(200, jobJson(job, ctx.base));
    },
  },
  {
    method: 'GET', name: 'GET /orgs/{org}/actions/runners', re: new RegExp(`^/orgs/${seg}/actions/runners$`),
    handler: (ctx, [org], env) => {
      if (!orgOk(env, org!)) return notFound();
      const name = ctx.url.searchParams.get('name');
      const runners = env.world.liveRunners().filter((r) => name === null || r.name === name).sort((a, b) => a.id - b.id);
      return pagedReply(ctx, runners.map(runnerJson), 'runners');
    },
  },
  {
    method: 'POST', name: 'POST /orgs/{org}/actions/runners/generate-jitconfig',
    re: new RegExp(`^/orgs/${seg}/actions/runners/generate-jitconfig$`),
    handler: (ctx, [org], env) => {
      if (!orgOk(env, org!)) return notFound();
      const body = (ctx.body ?? {}) as { name?: unknown; runner_group_id?: unknown; labels?: unknown };
      if (body.runner_group_id === undefined) {
        return errorReply(422, 'Invalid input: object is missing required key: runner_group_id', {}, '/actions/self-hosted-runners#create-configuration-for-a-just-in-time-runner-for-an-organization');
      }
      if (typeof body.name !== 'string' || body.name === '') {
        return errorReply(422, 'Invalid input: object is missing required key: name');
      }
      if (!Array.isArray(body.labels) || body.labels.length < 1 || body.labels.length > 100 || !body.labels.every((l) => typeof l === 'string')) {
        return errorReply(422, 'Invalid input: labels must be an array of 1 to 100 strings');
      }
      const groupId = Number(body.runner_group_id);
      if (!env.runnerGroupIds.has(groupId)) return notFound();
      if (env.world.runnerByName(body.name)) {
        return errorReply(409, `Already exists - A runner with the name ${body.name} already exists.`);
      }
      const secret = randomBytes(24).toString('hex');
      const runner = env.world.createRunner(body.name, body.labels as string[], groupId, secret);
      return { status: 201, body: { runner: runnerJson(runner), encoded_jit_config: encodeJitConfig(runner, ctx.base) }, noEtag: true };
    },
  },
  {
    method: 'DELETE', name: 'DELETE /orgs/{org}/actions/runners/{runner_id}',
    re: new RegExp(`^/orgs/${seg}/actions/runners/(\\d+)$`),
    handler: (_ctx, [org, id], env) => {
      if (!orgOk(env, org!)) return notFound();
      const runner = env.world.runners.get(Number(id));
      if (!runner || runner.deletedAt !== null) return notFound();
      if (runner.jobId !== null) return errorReply(422, `Bad request - Runner "${runner.name}" is still running a job`);
      env.world.removeRunner(runner, 'api');
      env.runnerDeleted(runner.id);
      return { status: 204, noEtag: true };
    },
  },
];

export function matchRoute(method: string, path: string): { route: Route; params: string[] } | undefined {
  for (const route of ROUTES) {
    if (route.method !== method) continue;
    const m = route.re.exec(path);
    if (m) return { route, params: m.slice(1) };
  }
  return undefined;
}
