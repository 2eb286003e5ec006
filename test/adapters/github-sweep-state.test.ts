// Warm starts: the sweep's ETags, summaries and schedule persist in the state directory, so a
// restarted adapter's first sweep is all 304s (no primary budget) and finds the same jobs; a file
// for another org, a corrupt file or none at all is a cold start, never a failure.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { harness, type Harness } from './github-helpers.js';

let h: Harness;
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tf-sweep-state-'));
});
afterEach(async () => {
  await h?.fake.stop();
  rmSync(dir, { recursive: true, force: true });
});

const MAC = ['self-hosted', 'coder'];

/** Sets `h` to a fake org on a hand-moved clock (the sweep's once-a-minute rules need time to pass). */
async function clockedHarness(): Promise<{ clock: { t: number }; file: string }> {
  const clock = { t: Date.parse('2026-01-01T00:00:00Z') };
  const now = () => clock.t;
  h = await harness({ now }, { now });
  return { clock, file: join(dir, 'github-sweep.json') };
}

test('a restart costs 304s, not a re-read: same jobs, no primary rate limit, nothing unswept', async () => {
  const { clock, file } = await clockedHarness();
  h.fake.addRepos(30);
  const a = h.fake.queueJob({ repo: 'repo-0003', labels: MAC });
  const b = h.fake.queueJob({ repo: 'repo-0020', labels: MAC, name: 'test' });
  const first = h.make({ sweepStateFile: file });
  const before = await first.listJobs();
  expect(before.jobs.map((j) => j.id).sort()).toEqual([a.jobId, b.jobId].sort());
  // Private repositories' names are in it: only the daemon's user may read it.
  expect(statSync(file).mode & 0o777).toBe(0o600);
  expect(readFileSync(file, 'utf8')).not.toContain('workflow_runs'); // summaries, not bodies

  clock.t += 61_000;
  h.fake.resetCounters();
  const remaining = h.fake.rateLimit().remaining;
  const second = h.make({ sweepStateFile: file });
  const after = await second.listJobs();
  expect(after.jobs).toEqual(before.jobs);
  expect(after.stats.unsweptRepositories).toBe(0);
  expect(after.stats.requests).toBeGreaterThan(0);
  expect(after.stats.notModified).toBe(after.stats.requests);
  expect(h.fake.rateLimit().remaining).toBe(remaining);
  expect(h.entries.some((e) => e.msg === 'github sweep state restored: a warm start')).toBe(true);
});

test('read-only (ls --live): starts warm from the daemon\'s state and never writes it', async () => {
  const { clock, file } = await clockedHarness();
  h.fake.addRepos(10);
  h.fake.queueJob({ repo: 'repo-0007', labels: MAC });
  await h.make({ sweepStateFile: file }).listJobs();
  const written = readFileSync(file, 'utf8');
  clock.t += 120_000;
  h.fake.queueJob({ repo: 'repo-0002', labels: MAC }); // a change, so a writer would save
  const live = h.make({ sweepStateFile: file, sweepStateReadOnly: true });
  const demand = await live.listJobs();
  expect(demand.stats.unsweptRepositories).toBe(0);
  expect(demand.jobs).toHaveLength(2);
  expect(readFileSync(file, 'utf8')).toBe(written);
});

test('what changed while the daemon was down is seen on the first sweep after the restart', async () => {
  const { clock, file } = await clockedHarness();
  h.fake.addRepos(5);
  const a = h.fake.queueJob({ repo: 'repo-0001', labels: MAC });
  await h.make({ sweepStateFile: file }).listJobs();
  h.fake.completeJob(a.jobId);
  const c = h.fake.queueJob({ repo: 'repo-0004', labels: MAC, event: 'workflow_dispatch' });
  clock.t += 61_000;
  const after = await h.make({ sweepStateFile: file }).listJobs();
  expect(after.jobs.map((j) => j.id)).toEqual([c.jobId]);
});

test.each([
  ['corrupt', '{"version": 1, "repos": ['],
  ['of another version', JSON.stringify({ version: 99, repos: [], etags: [] })],
  ['for another org', JSON.stringify({ version: 1, api_url: 'http://x', org: 'other', repo_source: 'org', repos: [], etags: [] })],
])('a state file that is %s: a cold start, logged, not a failure', async (_what, text) => {
  h = await harness();
  const file = join(dir, 'github-sweep.json');
  writeFileSync(file, text);
  h.fake.addRepos(3);
  h.fake.queueJob({ repo: 'repo-0002', labels: MAC });
  const demand = await h.make({ sweepStateFile: file }).listJobs();
  expect(demand.jobs).toHaveLength(1);
  expect(demand.stats.notModified).toBe(0);
  expect(h.entries.some((e) => /github sweep state (ignored|is for another)/.test(e.msg))).toBe(true);
  // And it was replaced by a good one.
  expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ version: 1, org: 'acme' });
});

test('written after the first sweep, then at most once a minute, changes or not', async () => {
  const { clock, file } = await clockedHarness();
  h.fake.addRepos(4);
  const adapter = h.make({ sweepStateFile: file });
  await adapter.listJobs();
  const first = readFileSync(file, 'utf8');
  clock.t += 20_000;
  h.fake.queueJob({ repo: 'repo-0001', labels: MAC }); // a change the next sweep reads (a 200)
  expect((await adapter.listJobs()).jobs).toHaveLength(1);
  expect(readFileSync(file, 'utf8')).toBe(first);
  clock.t += 41_000;
  await adapter.listJobs();
  const runsOf = (text: string) => (JSON.parse(text) as { repos: Array<{ name: string; runs: unknown[] }> }).repos.find((r) => r.name === 'acme/repo-0001')?.runs;
  expect(runsOf(first)).toEqual([]);
  expect(runsOf(readFileSync(file, 'utf8'))).toHaveLength(1);
});
