// The sweep benchmark module runs end to end (small sizes here; `npm run bench` uses 1,000 repos).
import { benchGithubSweep } from '../../src/bench/github-sweep.js';

test('benchGithubSweep: later sweeps read every repo of a small org (no event feed) and come back 304', async () => {
  const r = await benchGithubSweep({ repos: 60, activeRepos: 6, sweeps: 3 });
  expect(r.sweeps).toHaveLength(3);
  expect(r.sweeps.every((s) => s.jobs === 12)).toBe(true);
  // First sweep: the repo list, the "recently pushed" page, 1 run list per repo, 1 job list per active run.
  expect(r.requestsPerSweep[0]).toBe(1 + 1 + 60 + 6);
  // 15 s later: the "recently pushed" page + 1 run list per repo, all 304: without an event feed a
  // small org has every repository read every tick, as the budget allows (issue 29).
  expect(r.requestsPerSweep[1]).toBe(1 + 60);
  expect(r.notModifiedPerSweep[1]).toBe(r.requestsPerSweep[1]);
  expect(r.notModifiedPerSweep[2]).toBe(r.requestsPerSweep[2]);
  expect(r.wallMsPerSweep.every((ms) => ms >= 0)).toBe(true);
});
