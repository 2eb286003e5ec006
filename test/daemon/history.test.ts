// The job history: a bounded file (0600, corrupt lines skipped) and the records the daemon writes
// from admission, creation end and VM deletion.
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { HistoryFile, type JobRecord } from '../../src/adapters/history-file.js';
import { JobHistory } from '../../src/daemon/history.js';
import { memoryLogger } from '../../src/core/logger.js';
import { lsCommand } from '../../src/cli/ls.js';
import type { Action } from '../../src/core/model.js';
import { job, NOW, observed, seedConfig, vm } from '../core/world.js';

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'tf-history-'));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const record = (i: number): JobRecord => ({
  ended_at: new Date(NOW + i * 1000).toISOString(), profile: 'coder', job_id: i, repo: 'acme/app', workflow: 'CI', job: 'build', vm: `tf-mac-a-coder-${i}`,
  queue_wait_s: 3, boot_s: 20, duration_s: 60, result: 'done', reason: 'job finished', give_up: null,
});

test('bounded: never more than max + slack lines, the newest max kept, mode 0600, half a line skipped', () => {
  const dir = tempDir();
  const file = new HistoryFile(dir, 5, 2);
  for (let i = 1; i <= 20; i++) {
    file.append(record(i));
    expect(readFileSync(file.path, 'utf8').trim().split('\n').length).toBeLessThanOrEqual(7);
  }
  expect(statSync(file.path).mode & 0o777).toBe(0o600);
  expect(file.read().map((r) => r.job_id)).toEqual([16, 17, 18, 19, 20]);
  appendFileSync(file.path, '{"ended_at": "2026-');
  expect(new HistoryFile(dir, 5, 2).read().map((r) => r.job_id)).toEqual([16, 17, 18, 19, 20]);
  // A fresh writer (a restarted daemon) counts what is there and keeps the bound.
  const again = new HistoryFile(dir, 5, 2);
  for (let i = 21; i <= 30; i++) again.append(record(i));
  expect(readFileSync(again.path, 'utf8').trim().split('\n').length).toBeLessThanOrEqual(7);
  expect(again.read().map((r) => r.job_id)).toEqual([26, 27, 28, 29, 30]);
});

describe('what the daemon records', () => {
  const config = seedConfig();
  const setup = () => {
    const dir = tempDir();
    const file = new HistoryFile(dir);
    return { file, history: new JobHistory({ config, logger: memoryLogger(), file }) };
  };
  const admit = (j: ReturnType<typeof job>, attempt = 1): Extract<Action, { kind: 'create' }> => ({
    kind: 'create', claim: { profile: 'coder', jobId: j.id, attempt }, job: j, vmName: `tf-mac-a-coder-${j.id}`, runnerName: `tf-coder-${j.id}`, reason: 'fits',
  });
  const memory = () => observed().memory;

  test('a job that ran: queue wait, boot, run time, workflow and result from one admission to its VM deleted', () => {
    const { file, history } = setup();
    const j = job('coder', { createdAt: NOW - 12_000, workflow: 'CI', name: 'build', repo: 'acme/app' });
    const a = admit(j);
    history.admitted(a, NOW);
    history.creationEnded(a.claim, 'started', NOW + 25_000, memory());
    expect(file.read()).toEqual([]);
    const world = observed({ vms: [vm('coder', j.id, { state: 'stopped' })] });
    history.vmDeleted({ kind: 'delete-vm', vmName: a.vmName, claim: a.claim, stop: false, cause: 'job-done', reason: 'VM is stopped and its runner is gone: job finished' }, world, memory(), NOW + 125_000);
    expect(file.read()).toEqual([{
      ended_at: new Date(NOW + 125_000).toISOString(), profile: 'coder', job_id: j.id, repo: 'acme/app', workflow: 'CI', job: 'build', vm: a.vmName,
      queue_wait_s: 12, boot_s: 25, duration_s: 100, result: 'done', reason: 'VM is stopped and its runner is gone: job finished', give_up: null,
    }]);
    expect(history.takeEnded().map((r) => r.job_id)).toEqual([j.id]);
    expect(history.takeEnded()).toEqual([]);
  });

  test('a claim another Mac won is not a job of this Mac; a give-up says why; a VM adopted after a restart is still recorded', () => {
    const { file, history } = setup();
    const elsewhere = job('coder');
    history.admitted(admit(elsewhere), NOW);
    history.creationEnded(admit(elsewhere).claim, 'claimed-elsewhere', NOW + 1000, memory());
    expect(file.read()).toEqual([]);

    const failing = job('coder', { repo: 'acme/flaky' });
    history.admitted(admit(failing), NOW);
    const failed = observed({ failures: [[`coder-${failing.id}`, ['boot-failed', 'boot-failed', 'boot-failed']]] }).memory;
    history.creationEnded(admit(failing).claim, 'gave-up', NOW + 90_000, failed);
    expect(file.read()[0]).toMatchObject({ job_id: failing.id, repo: 'acme/flaky', result: 'gave-up', boot_s: null, duration_s: null, give_up: 'gave up after 3 failed attempts on this Mac (3× boot failed)' });

    const adopted = vm('coder', 4242, { startedAt: NOW - 600_000 });
    history.vmDeleted({ kind: 'delete-vm', vmName: adopted.name, claim: adopted.claim, stop: true, cause: 'timeout', reason: "VM is past its profile's timeout; the job is cut off" }, observed({ vms: [adopted] }), memory(), NOW);
    expect(file.read()[1]).toMatchObject({ job_id: 4242, repo: null, queue_wait_s: null, boot_s: null, duration_s: 600, result: 'timeout' });
  });

  test('ls --history shows them, newest first, and --json has every record', async () => {
    const { file } = setup();
    for (let i = 1; i <= 3; i++) file.append(record(i));
    file.append({ ...record(4), result: 'gave-up', duration_s: null, boot_s: null, give_up: 'gave up after 3 failed attempts on this Mac (3× boot failed)' });
    const run = async (json: boolean) => {
      const stdout = new PassThrough();
      let out = '';
      stdout.on('data', (c: Buffer) => (out += c.toString()));
      const code = await lsCommand({ env: {}, cwd: '/', stdout, stderr: new PassThrough(), hostname: 'h', totalMemBytes: 1 }, { history: true, json, stateDir: join(file.path, '..') });
      return { code, out };
    };
    const human = await run(false);
    expect(human.code).toBe(0);
    const lines = human.out.split('\n');
    expect(lines[0]).toMatch(/newest first \(4 of 4 kept/);
    expect(human.out).toMatch(/gave-up: gave up after 3 failed attempts/);
    expect(human.out).toMatch(/acme\/app\s*│ CI \/ build\s*│ 3s\s*│ 20s\s*│ 60s\s*│ done/);
    expect(human.out.indexOf('gave-up')).toBeLessThan(human.out.indexOf('done'));
    const json = JSON.parse((await run(true)).out) as { history: JobRecord[]; kept_max: number };
    expect(json.kept_max).toBe(500);
    expect(json.history.map((r) => r.job_id)).toEqual([4, 3, 2, 1]);
  });
});
