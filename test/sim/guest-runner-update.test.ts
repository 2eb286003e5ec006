// The simulated runner's self-update against the real fake GitHub (audit B2): when GitHub's latest
// release is newer than the runner's version, the runner connects, downloads while online and idle,
// ends its session (exit 4) and is offline for the configured gap, then reconnects at the new version
// and runs its job. The fake records every change the runner list would show (`views`).
import type { FakeGitHub } from '../../src/sim/github/server.js';
import { fakeGitHubPerTest } from './fake-github-fixture.js';
import { runSimulatedRunner, runnerOptionsFromEnv } from '../../src/sim/guest/runner.js';

const TOKEN = 'ghp_runnerupdatetoken0123456789abcdefgh';
let fake: FakeGitHub;
let url: string;

fakeGitHubPerTest({ org: 'acme', tokens: [TOKEN] }, (f, u) => {
  fake = f;
  url = u;
});

async function jit(name: string): Promise<{ id: number; encoded: string }> {
  const res = await fetch(`${url}/orgs/acme/actions/runners/generate-jitconfig`, {
    method: 'POST',
    headers: { authorization: `token ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name, labels: ['self-hosted', 'coder'], runner_group_id: 1 }),
  });
  const body = (await res.json()) as { runner: { id: number }; encoded_jit_config: string };
  return { id: body.runner.id, encoded: body.encoded_jit_config };
}

test('outdated: online, update, offline for the gap, online at the new version, then the job', async () => {
  fake.setLatestRunnerVersion('2.337.0');
  fake.addRepo('app');
  const { jobId } = fake.queueJob({ repo: 'app', labels: ['self-hosted', 'coder'], durationMs: 10 });
  const r = await jit('tf-coder-1');
  const lines: string[] = [];
  const offlineMs = 1500;
  const exit = await runSimulatedRunner({
    encodedJitConfig: r.encoded,
    log: (l) => lines.push(l),
    speed: 1,
    jobHangs: false,
    signal: new AbortController().signal,
    waitMs: 200,
    update: { downloadMs: 100, offlineMs },
  });
  expect(exit).toBe('completed');
  expect(fake.job(jobId)).toMatchObject({ status: 'completed', conclusion: 'success', runnerName: 'tf-coder-1' });

  const views = fake.world.runners.get(r.id)!.views;
  const shown = views.map((v) => (v.view === null ? 'gone' : `${v.view.online ? 'online' : 'offline'}${v.view.busy ? '+busy' : ''}@${v.view.version || '-'}`));
  expect(shown).toEqual(['offline@-', 'online@2.336.0', 'offline@2.336.0', 'online@2.337.0', 'online+busy@2.337.0', 'gone']);
  // The gap is the configured one (a lower bound: the timer cannot fire much before it).
  const wentOffline = views[2]!.at;
  const back = views[3]!.at;
  expect(back - wentOffline).toBeGreaterThanOrEqual(offlineMs * 0.9);
  expect(lines).toEqual(expect.arrayContaining([
    "Current runner version: '2.336.0'",
    expect.stringMatching(/Downloading 2\.337\.0 runner$/),
    'Runner listener exit with 4 return code, runner update in progress.',
    "Current runner version: '2.337.0'",
  ]));
  // The job ran only after the update.
  const started = fake.jobHistory(jobId).find((e) => e.status === 'in_progress')!;
  expect(started.at).toBeGreaterThanOrEqual(back);
});

test('up to date (the default): no update, straight to the job', async () => {
  fake.addRepo('app');
  fake.queueJob({ repo: 'app', labels: ['self-hosted', 'coder'], durationMs: 10 });
  const r = await jit('tf-coder-1');
  const lines: string[] = [];
  const exit = await runSimulatedRunner({ encodedJitConfig: r.encoded, log: (l) => lines.push(l), speed: 1, jobHangs: false, signal: new AbortController().signal, waitMs: 200 });
  expect(exit).toBe('completed');
  expect(lines.some((l) => l.includes('update'))).toBe(false);
  expect(fake.world.runners.get(r.id)!.views.map((v) => (v.view === null ? 'gone' : `${v.view.online ? 'online' : 'offline'}${v.view.busy ? '+busy' : ''}`)))
    .toEqual(['offline', 'online', 'online+busy', 'gone']);
});

test('runnerOptionsFromEnv: version and update timing from TART_SIM_* variables, defaults otherwise', () => {
  expect(runnerOptionsFromEnv({})).toEqual({ update: {} });
  expect(runnerOptionsFromEnv({ TART_SIM_RUNNER_VERSION: '2.330.0', TART_SIM_RUNNER_UPDATE_DOWNLOAD_MS: '50', TART_SIM_RUNNER_UPDATE_OFFLINE_MS: '3000' }))
    .toEqual({ version: '2.330.0', update: { downloadMs: 50, offlineMs: 3000 } });
  expect(runnerOptionsFromEnv({ TART_SIM_RUNNER_UPDATE_OFFLINE_MS: 'soon' })).toEqual({ update: {} });
});
