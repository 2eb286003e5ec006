// Status that never claims what it did not see: `ls` (live and from the snapshot), `run --dry-run`
// and the tick's log line say "unknown" for a side they could not read, count every VM, and do not
// call an old minute "the last minute". The real CLI against the simulated world; GitHub made
// unreadable with a token it refuses (401 at once, as GitHub does for a revoked token), tart with a
// binary that does not exist.
import { join } from 'node:path';
import { jest } from '@jest/globals';
import { SimWorld, parseLogLines } from '../../src/sim/world.js';
import { renderLsTables } from '../../src/cli/render.js';
import type { LsView } from '../../src/core/fleet-view.js';
import { runBin, simWorldForAll } from './cli-helpers.js';

jest.setTimeout(120_000);

let world: SimWorld;
simWorldForAll({ speed: 40 }, (w) => (world = w));

const cli = (args: string[], extra: Record<string, string> = {}) => runBin([...args, '--config', world.configPath], { env: world.daemonEnv(extra), cwd: world.dir });

const REFUSED = { TART_FLEET_GITHUB_TOKEN: 'ghp_revoked0000000000000000000000000000' };

test('GitHub unreadable: the queue is null (unknown) in ls --json and run --dry-run, and the tick line does not claim queued=0', async () => {
  world.queue('coder');
  const live = await cli(['ls', '--live', '--json'], REFUSED);
  expect(live.code).toBe(4);
  expect(JSON.parse(live.stdout).queue).toBeNull();
  const text = await cli(['ls', '--live'], REFUSED);
  expect(text.stdout).toContain('(queue unknown: GitHub could not be read)');
  expect(text.stdout).not.toContain('(no queued jobs)');

  const dry = await cli(['run', '--dry-run'], REFUSED);
  expect(JSON.parse(dry.stdout).queue).toBeNull();

  const once = await cli(['run', '--once'], REFUSED);
  expect(once.code).toBe(1);
  const tick = parseLogLines(once.stdout).find((l) => l.msg === 'tick done');
  expect(tick).toEqual(expect.objectContaining({ ok: false, queued: null }));
});

test('tart unreadable: VMs are "unknown", with the reason, never "(no VMs of this host)"', async () => {
  const { code, stdout } = await cli(['ls', '--live'], { TART_FLEET_TART_BIN: join(world.dir, 'no-such-tart') });
  expect(code).toBe(4);
  expect(stdout).toMatch(/VMs \? \(macOS \?\/2\)/);
  expect(stdout).toMatch(/^VMs: unknown \(tart could not be read; the reason is above\)$/m);
  expect(stdout).toMatch(/^! tart could not be read \(.*no-such-tart.*\)/m);
  expect(stdout).not.toContain('(no VMs of this host)');
});

test('a tick that admits jobs logs admitted=N, not created=', async () => {
  const id = world.queue('coder', { durationS: 6000 });
  const once = await cli(['run', '--once']);
  expect(once.code).toBe(0);
  const tick = parseLogLines(once.stdout).find((l) => l.msg === 'tick done' && Number(l.admitted) >= 1);
  expect(tick).toBeDefined();
  expect(tick).not.toHaveProperty('created');
  expect(world.github.job(id).status).toBe('in_progress');
});

function view(over: Partial<LsView> = {}): LsView {
  const vm = (name: string, ram: number) => ({ name, profile: 'p', state: 'running', creating: false, repo: 'o/r', job_id: 1, age_s: 3, ram_mb: ram, cpu: 2, ip: null, runner: null, runner_status: null });
  return {
    runner_name: 'mac', ledger: { used_mb: 9216, ceiling_mb: 12288, vms: 1, max_vms: 2, foreign_mb: 0 },
    vms: [vm('tf-mac-developer-1', 5120), vm('tf-mac-coder-2', 2048), vm('tf-mac-coder-3', 2048)],
    queue: [], creating: [], problems: [], give_ups: [],
    github: { requests: 3, not_modified: 1, rate_limit_remaining: 4000, coldest_repo_age_s: 1, unswept_repositories: 0 },
    github_budget: { per_minute: 600, last_minute: 42, backoff_until: null, backoff_reason: null, backoffs: 0 },
    ...over,
  };
}

test('three VMs, one of them macOS: the header counts all three and names the macOS cap', () => {
  expect(renderLsTables(view())[0]).toMatch(/ {2}VMs 3 \(macOS 1\/2\)$/);
});

test('"in the last minute" only for a fresh observation; an old snapshot says whose minute it was', () => {
  expect(renderLsTables(view(), undefined, 2).join('\n')).toContain('GitHub budget: 42/600 requests in the last minute');
  const old = renderLsTables(view(), undefined, 300).join('\n');
  expect(old).toContain('GitHub budget: 42/600 requests in the minute before the snapshot (300 s ago)');
  expect(old).not.toContain('in the last minute');
});
