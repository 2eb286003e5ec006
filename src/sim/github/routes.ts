/**
 * The REST endpoints of the fake GitHub that tart-fleet uses (facts sheet §5, §6): repositories,
 * workflow runs, jobs, org runners, runner groups, generate-jitconfig and runner deletion.
 * Authentication, permission checks, rate limits, fault injection and ETags are the server's
 * business (server.ts); routes only declare what access they need, and read and change the world.
 *
 * ## Gotchas
 * - Runs are listed newest first, as GitHub does; `status=` filters on the run's derived status or,
 *   for conclusion values (`success`, `failure`, `cancelled`), on its conclusion.
 * - `generate-jitconfig` answers 409 `Already exists - A runner with the name <name> already exists.`
 *   while a runner with that name exists (deleted runners free their name, as on GitHub), and 422 for
 *   a name over 64 characters (actions/runner PR #1710, maintainer: "Runner names can only be 64
 *   characters in length."; the exact REST wording is unverified, the status is what matters).
 * - `GET …/runners/downloads` lists the runner releases for each OS/architecture at the world's
 *   `latestRunnerVersion` (spec schema `runner-application`), so a client can tell an outdated image.
 * - Org webhooks and their deliveries: hooks.ts (GitHub docs cited there).
 * - `access` follows the spec's per-endpoint text: org runner and runner-group endpoints need the
 *   classic scope `admin:org`, or `organization_self_hosted_runners` read/write for Apps and
 *   fine-grained tokens; runs and jobs need `actions: read` (a classic token's `repo` scope for
 *   private repositories is not modelled: every classic token sees every simulated repository).
 */
import { createHash, randomBytes } from 'node:crypto';
import { type Ctx, type Reply, errorReply, json, pageParams, pagedReply } from './http.js';
import { jobJson, repoJson, runJson, runnerGroupJson, runnerJson } from './shapes.js';
import { type HookKey, deliveryItemJson, deliveryJson, hookJson } from './hooks.js';
import type { SimRepo, SimRun, WorldState } from './state.js';
import { encodeJitConfig } from './broker.js';

export interface RouteEnv {
  world: WorldState;
  /** Called after the world changed in a way that may let the broker assign jobs. */
  changed(): void;
  /** Called with a runner that was deleted, so the broker can end its session. */
  runnerDeleted(runnerId: number): void;
}

type Handler = (ctx: Ctx, m: string[], env: RouteEnv) => Reply;

/** What a token must hold to use a route. */
export interface RouteAccess {
  /** GitHub App / fine-grained permission, e.g. `organization_self_hosted_runners`. */
  permission: string;
  level: 'read' | 'write';
  /** The classic (OAuth) scope that grants it; undefined when a classic token needs none. */
  scope?: string;
}

interface Route {
  method: string;
  /** Endpoint name for request counting, e.g. `GET /orgs/{org}/repos`. */
  name: string;
  re: RegExp;
  access?: RouteAccess;
  handler: Handler;
}

const RUNNERS_READ: RouteAccess = { permission: 'organization_self_hosted_runners', level: 'read', scope: 'admin:org' };
const RUNNERS_WRITE: RouteAccess = { permission: 'organization_self_hosted_runners', level: 'write', scope: 'admin:org' };
const ACTIONS_READ: RouteAccess = { permission: 'actions', level: 'read' };
/** Org webhooks: classic `admin:org_hook` (not part of `admin:org`), else the org permission "Webhooks" (hooks.ts). */
const HOOKS_READ: RouteAccess = { permission: 'organization_hooks', level: 'read', scope: 'admin:org_hook' };
const HOOKS_WRITE: RouteAccess = { permission: 'organization_hooks', level: 'write', scope: 'admin:org_hook' };

/** The deliveries list of a hook: newest first, `per_page` ≤ 100, cursor paging by `link` (hooks.ts). */
export function deliveriesReply(ctx: Ctx, env: RouteEnv, hook: HookKey): Reply {
  const { perPage } = pageParams(ctx);
  const { items, next } = env.world.hooks.page(hook, perPage, ctx.url.searchParams.get('cursor'));
  const headers: Record<string, string> = {};
  if (next) {
    const u = new URL(ctx.url.toString());
    u.searchParams.set('per_page', String(perPage));
    u.searchParams.set('cursor', next);
    headers.link = `<${u.toString()}>; rel="next"`;
  }
  return { status: 200, body: items.map(deliveryItemJson), headers };
}

/** One delivery with its payload, or 404. */
export function deliveryReply(env: RouteEnv, hook: HookKey, id: number): Reply {
  const d = env.world.hooks.delivery(hook, id);
  return d ? json(200, deliveryJson(d)) : errorReply(404, 'Not Found');
}

const seg = '([^/]+)';
/** GitHub's limit on runner names (see the header). */
export const MAX_RUNNER_NAME = 64;

/** The downloads GitHub lists for one runner release, as `GET /orgs/{org}/actions/runners/downloads` shows them. */
export function runnerDownloads(version: string) {
  const platforms: Array<[os: string, arch: string, file: string]> = [
    ['osx', 'x64', 'osx-x64'], ['osx', 'arm64', 'osx-arm64'],
    ['linux', 'x64', 'linux-x64'], ['linux', 'arm', 'linux-arm'], ['linux', 'arm64', 'linux-arm64'],
    ['win', 'x64', 'win-x64'], ['win', 'arm64', 'win-arm64'],
  ];
  return platforms.map(([os, architecture, file]) => {
    const filename = `actions-runner-${file}-${version}.${os === 'win' ? 'zip' : 'tar.gz'}`;
    return {
      os,
      architecture,
      download_url: `https://github.com/actions/runner/releases/download/v${version}/${filename}`,
      filename,
      // Not the real checksum (the fake has no tarball); shaped like one.
      sha256_checksum: createHash('sha256').update(filename).digest('hex'),
    };
  });
}

function repoOf(env: RouteEnv, owner: string, name: string): SimRepo | undefined {
  return env.world.repos.get(`${decodeURIComponent(owner)}/${decodeURIComponent(name)}`);
}

/** The run `runId` of repository owner/name; undefined if either is unknown or the run is another repository's. */
function runOf(env: RouteEnv, owner: string, name: string, runId: string): SimRun | undefined {
  const repo = repoOf(env, owner, name);
  const run = env.world.runs.get(Number(runId));
  return repo && run && run.repo === repo ? run : undefined;
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
      const type = ctx.url.searchParams.get('type') ?? 'all';
      const repos = [...env.world.repos.values()]
        .filter((r) => r.owner.toLowerCase() === env.world.org.toLowerCase())
        .filter((r) => (type === 'public' ? !r.private : type === 'private' ? r.private : true));
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
    access: ACTIONS_READ,
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
    method: 'GET', name: 'GET /repos/{owner}/{repo}/actions/runs/{run_id}',
    re: new RegExp(`^/repos/${seg}/${seg}/actions/runs/(\\d+)$`),
    access: ACTIONS_READ,
    handler: (ctx, [o, r, runId], env) => {
      const run = runOf(env, o!, r!, runId!);
      if (!run) return notFound();
      return json(200, runJson(env.world, run, ctx.base));
    },
  },
  {
    method: 'GET', name: 'GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs',
    re: new RegExp(`^/repos/${seg}/${seg}/actions/runs/(\\d+)/jobs$`),
    access: ACTIONS_READ,
    handler: (ctx, [o, r, runId], env) => {
      const run = runOf(env, o!, r!, runId!);
      if (!run) return notFound();
      const jobs = run.jobIds.map((id) => env.world.jobs.get(id)!);
      return pagedReply(ctx, jobs.map((j) => jobJson(j, ctx.base)), 'jobs');
    },
  },
  {
    method: 'GET', name: 'GET /repos/{owner}/{repo}/actions/jobs/{job_id}',
    re: new RegExp(`^/repos/${seg}/${seg}/actions/jobs/(\\d+)$`),
    access: ACTIONS_READ,
    handler: (ctx, [o, r, jobId], env) => {
      const repo = repoOf(env, o!, r!);
      const job = env.world.jobs.get(Number(jobId));
      if (!repo || !job || job.repo !== repo) return notFound();
      return json(200, jobJson(job, ctx.base));
    },
  },
  {
    method: 'GET', name: 'GET /orgs/{org}/actions/runners', re: new RegExp(`^/orgs/${seg}/actions/runners$`),
    access: RUNNERS_READ,
    handler: (ctx, [org], env) => {
      if (!orgOk(env, org!)) return notFound();
      const name = ctx.url.searchParams.get('name');
      // As listed: possibly a lagging picture (state.ts `runnerListLagMs`).
      const runners = env.world.runnersAsListed().filter(({ runner }) => name === null || runner.name === name);
      return pagedReply(ctx, runners.map(({ runner, view }) => runnerJson(runner, view)), 'runners');
    },
  },
  {
    method: 'GET', name: 'GET /orgs/{org}/actions/runners/downloads', re: new RegExp(`^/orgs/${seg}/actions/runners/downloads$`),
    access: RUNNERS_READ,
    handler: (_ctx, [org], env) => {
      if (!orgOk(env, org!)) return notFound();
      return json(200, runnerDownloads(env.world.latestRunnerVersion));
    },
  },
  {
    // docs.github.com/en/rest/actions/permissions#get-default-workflow-permissions-for-an-organization:
    // classic tokens need admin:org; Apps and fine-grained tokens "Administration" org permission (read).
    method: 'GET', name: 'GET /orgs/{org}/actions/permissions/workflow',
    re: new RegExp(`^/orgs/${seg}/actions/permissions/workflow$`),
    access: { permission: 'organization_administration', level: 'read', scope: 'admin:org' },
    handler: (_ctx, [org], env) => {
      if (!orgOk(env, org!)) return notFound();
      const w = env.world.workflowPermissions;
      return json(200, { default_workflow_permissions: w.defaultWorkflowPermissions, can_approve_pull_request_reviews: w.canApprovePullRequestReviews });
    },
  },
  {
    method: 'GET', name: 'GET /orgs/{org}/actions/runner-groups/{runner_group_id}',
    re: new RegExp(`^/orgs/${seg}/actions/runner-groups/(\\d+)$`),
    access: RUNNERS_READ,
    handler: (ctx, [org, id], env) => {
      if (!orgOk(env, org!)) return notFound();
      const group = env.world.runnerGroups.get(Number(id));
      if (!group) return errorReply(404, 'Not Found', {}, '/actions/self-hosted-runner-groups#get-a-self-hosted-runner-group-for-an-organization');
      return json(200, runnerGroupJson(group, env.world.org, ctx.base));
    },
  },
  {
    method: 'GET', name: 'GET /orgs/{org}/actions/runner-groups/{runner_group_id}/repositories',
    re: new RegExp(`^/orgs/${seg}/actions/runner-groups/(\\d+)/repositories$`),
    access: RUNNERS_READ,
    handler: (ctx, [org, id], env) => {
      if (!orgOk(env, org!)) return notFound();
      const group = env.world.runnerGroups.get(Number(id));
      if (!group) return notFound();
      const repos = group.selectedRepositories.map((n) => env.world.repos.get(n)).filter((r): r is SimRepo => r !== undefined);
      return pagedReply(ctx, repos.map((r) => repoJson(r, ctx.base)), 'repositories');
    },
  },
  {
    method: 'GET', name: 'GET /orgs/{org}/hooks', re: new RegExp(`^/orgs/${seg}/hooks$`),
    access: HOOKS_READ,
    handler: (ctx, [org], env) => {
      if (!orgOk(env, org!)) return notFound();
      const hooks = [...env.world.hooks.hooks.values()].sort((a, b) => a.id - b.id);
      return pagedReply(ctx, hooks.map((h) => hookJson(h, env.world.org, ctx.base)));
    },
  },
  {
    method: 'POST', name: 'POST /orgs/{org}/hooks', re: new RegExp(`^/orgs/${seg}/hooks$`),
    access: HOOKS_WRITE,
    handler: (ctx, [org], env) => {
      if (!orgOk(env, org!)) return notFound();
      const body = (ctx.body ?? {}) as { name?: unknown; config?: { url?: unknown; content_type?: unknown }; events?: unknown; active?: unknown };
      if (body.name !== 'web') return errorReply(422, 'Validation Failed', { errors: [{ resource: 'Hook', code: 'custom', message: 'Name must be "web"' }] });
      const url = body.config?.url;
      if (typeof url !== 'string' || !/^https?:\/\/[^/\s]+/.test(url)) {
        return errorReply(422, 'Validation Failed', { errors: [{ resource: 'Hook', code: 'custom', message: 'Config url cannot be blank' }] });
      }
      // GitHub refuses a URL it could never reach from the internet, e.g. "Webhook URL is not supported
      // because it isn't reachable over the public Internet (localhost)" (github-community-projects/
      // private-mirrors#387). Whether it refuses a name that does not resolve (RFC 2606 `.invalid`) is
      // unverified: the fake accepts it.
      const host = new URL(url).hostname;
      if (/^(localhost|127\.|10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.|\[?::1\]?$)/i.test(host)) {
        return errorReply(422, 'Validation Failed', { errors: [{ resource: 'Hook', code: 'custom', message: `Hook url is not supported because it isn't reachable over the public Internet (${host})` }] });
      }
      const events = Array.isArray(body.events) && body.events.every((e) => typeof e === 'string') ? (body.events as string[]) : ['push'];
      const hook = env.world.hooks.addHook({ url, events, active: body.active !== false });
      return { status: 201, body: hookJson(hook, env.world.org, ctx.base), noEtag: true };
    },
  },
  {
    method: 'GET', name: 'GET /orgs/{org}/hooks/{hook_id}', re: new RegExp(`^/orgs/${seg}/hooks/(\\d+)$`),
    access: HOOKS_READ,
    handler: (ctx, [org, id], env) => {
      const hook = env.world.hooks.hooks.get(Number(id));
      if (!orgOk(env, org!) || !hook) return notFound();
      return json(200, hookJson(hook, env.world.org, ctx.base));
    },
  },
  {
    method: 'GET', name: 'GET /orgs/{org}/hooks/{hook_id}/deliveries', re: new RegExp(`^/orgs/${seg}/hooks/(\\d+)/deliveries$`),
    access: HOOKS_READ,
    handler: (ctx, [org, id], env) => {
      if (!orgOk(env, org!) || !env.world.hooks.hooks.has(Number(id))) return notFound();
      return deliveriesReply(ctx, env, Number(id));
    },
  },
  {
    method: 'GET', name: 'GET /orgs/{org}/hooks/{hook_id}/deliveries/{delivery_id}', re: new RegExp(`^/orgs/${seg}/hooks/(\\d+)/deliveries/(\\d+)$`),
    access: HOOKS_READ,
    handler: (_ctx, [org, id, deliveryId], env) => {
      if (!orgOk(env, org!) || !env.world.hooks.hooks.has(Number(id))) return notFound();
      return deliveryReply(env, Number(id), Number(deliveryId));
    },
  },
  {
    method: 'POST', name: 'POST /orgs/{org}/actions/runners/generate-jitconfig',
    re: new RegExp(`^/orgs/${seg}/actions/runners/generate-jitconfig$`),
    access: RUNNERS_WRITE,
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
      if (body.name.length > MAX_RUNNER_NAME) {
        return errorReply(422, `Invalid input: Runner names can only be ${MAX_RUNNER_NAME} characters in length.`, {}, '/actions/self-hosted-runners#create-configuration-for-a-just-in-time-runner-for-an-organization');
      }
      const groupId = Number(body.runner_group_id);
      if (!env.world.runnerGroups.has(groupId)) return notFound();
      if (env.world.runnerByName(body.name)) {
        return errorReply(409, `Already exists - A runner with the name ${body.name} already exists.`);
      }
      const secret = randomBytes(24).toString('hex');
      const runner = env.world.createRunner(body.name, body.labels as string[], groupId, secret);
      return { status: 201, body: { runner: runnerJson(runner), encoded_jit_config: encodeJitConfig(runner, ctx.brokerBase ?? ctx.base) }, noEtag: true };
    },
  },
  {
    method: 'DELETE', name: 'DELETE /orgs/{org}/actions/runners/{runner_id}',
    re: new RegExp(`^/orgs/${seg}/actions/runners/(\\d+)$`),
    access: RUNNERS_WRITE,
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
