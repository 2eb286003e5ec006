// End-to-end (issue 29): the real daemon against the simulated world, with and without the event feed
// (an org webhook whose delivery log the daemon polls). With the feed, a comment-triggered job in an
// org whose sweep round takes minutes runs within seconds; a lost delivery's job still runs within
// the round; a hook that disappears leaves the daemon working on the sweep and saying so. Without a
// feed, a comment-triggered job in a six-repository org starts within a few ticks.
import { jest } from '@jest/globals';
import { MACHINE_FACTOR, waitFor, worldsDestroyedAfterEach, scaledTimeout } from './helpers.js';
import type { SimWorld } from '../../src/sim/world.js';

jest.setTimeout(scaledTimeout(240_000));
const newWorld = worldsDestroyedAfterEach();
const DAY = 86_400_000;
const LABELS = ['self-hosted', 'coder'];

/** The world's token may read org webhooks (classic `admin:org_hook`, src/sim/github/hooks.ts). */
function withHookScope(world: SimWorld): void {
  world.github.addToken(world.token, { kind: 'classic', scopes: ['admin:org', 'repo', 'admin:org_hook'] });
}

function addQuietRepos(world: SimWorld, n: number): void {
  for (let i = 1; i <= n; i++) world.github.addRepo(`r${String(i).padStart(3, '0')}`, { pushedAt: Date.now() - DAY });
}

const started = (world: SimWorld, jobId: number) => world.github.job(jobId).history.some((h) => h.status === 'in_progress');
const logged = (world: SimWorld, re: RegExp) => world.logLines().some((l) => re.test(String(l.msg)));

test('with the feed: a comment-triggered job in a 300-repository org (a round of minutes) runs within seconds', async () => {
  const world = await newWorld({ speed: 20, pollSeconds: 5 });
  withHookScope(world);
  addQuietRepos(world, 300);
  const hook = world.github.addOrgHook();
  // 60 requests a minute: the sweep needs > 5 minutes for 300 repositories.
  world.startDaemon(['run'], { TART_FLEET_GITHUB_HOOK_ID: String(hook.id), TART_FLEET_GITHUB_MAX_REQUESTS_PER_MINUTE: '60' });
  await waitFor('the feed on', () => logged(world, /webhook delivery feed on/), 60_000, 200);

  const queuedAt = Date.now();
  const { jobId } = world.github.queueJob({ repo: 'r250', labels: LABELS, event: 'issue_comment', durationMs: 2000 });
  // Well inside the round (> 300 s): only the feed can have sent the sweep to r250.
  await waitFor('the comment-triggered job started', () => started(world, jobId), 45_000, 200);
  const startedAfterS = (world.github.job(jobId).history.find((h) => h.status === 'in_progress')!.at - queuedAt) / 1000;
  expect(startedAfterS).toBeLessThan(45 * MACHINE_FACTOR);
  const ls = await world.ls();
  expect((ls as unknown as { github_feed?: { state: string; hints: number } }).github_feed).toMatchObject({ state: 'ok' });
  expect(world.github.rateLimit().remaining).toBeGreaterThan(0);
  expect(await world.stopDaemon()).toBe(0);
});

test('with the feed: a lost delivery\'s job still runs within the round; a hook that disappears leaves the daemon on the sweep, saying so', async () => {
  const world = await newWorld({ speed: 20, pollSeconds: 5 });
  withHookScope(world);
  addQuietRepos(world, 12);
  const hook = world.github.addOrgHook();
  world.startDaemon(['run'], { TART_FLEET_GITHUB_HOOK_ID: String(hook.id) });
  await waitFor('the feed on', () => logged(world, /webhook delivery feed on/), 60_000, 200);

  world.github.hookFaults({ lose: 1 });
  const lost = world.github.queueJob({ repo: 'r007', labels: LABELS, event: 'workflow_dispatch', durationMs: 2000 });
  // The feed names busy repositories, so quiet ones are read once a minute: that is the round here.
  await waitFor('the lost delivery\'s job started by the round', () => started(world, lost.jobId), 120_000, 500);

  world.github.deleteOrgHook(hook.id);
  await waitFor('the daemon says the feed fails', () => logged(world, /webhook delivery feed failing/), 30_000, 200);
  const pushed = world.github.queueJob({ repo: 'r003', labels: LABELS, event: 'push', durationMs: 2000 });
  await waitFor('a pushed job still runs (the sweep alone)', () => started(world, pushed.jobId), 60_000, 200);
  await waitFor('ls names the failing feed', async () => (await world.ls()).problems.some((p) => /event feed .* failing: .*not found/.test(p)), 30_000, 500);
  expect(await world.stopDaemon()).toBe(0);
});

test('without a feed: a comment-triggered job in a six-repository org starts within a few ticks', async () => {
  const world = await newWorld({ speed: 20, pollSeconds: 5 });
  addQuietRepos(world, 6);
  world.startDaemon();
  // Every repository swept once (a cold start), then a comment in a quiet one.
  await waitFor('all repositories swept', async () => {
    const view = await world.ls().catch(() => undefined);
    return view !== undefined && (view as unknown as { github: unknown }).github !== null && !view.problems.some((p) => /not swept yet/.test(p));
  }, 60_000, 500);
  const queuedAt = Date.now();
  const { jobId } = world.github.queueJob({ repo: 'r004', labels: LABELS, event: 'issue_comment', durationMs: 2000 });
  await waitFor('the comment-triggered job claimed', () => world.github.runners().some((r) => r.name === `tf-coder-${jobId}`), 60_000, 200);
  const claimedAfterS = (world.github.runners().find((r) => r.name === `tf-coder-${jobId}`)!.createdAt - queuedAt) / 1000;
  // A few ticks of 5 s (±10 % jitter), not the old minute of a quiet repository.
  expect(claimedAfterS).toBeLessThan(4 * 5.5 * MACHINE_FACTOR);
  await waitFor('it ran', () => started(world, jobId), 60_000, 200);
  expect(await world.stopDaemon()).toBe(0);
});
