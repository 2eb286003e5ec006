// The version comes from package.json in one place, and every surface shows that one.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { PACKAGE_ROOT, packageVersion } from '../../src/config/package.js';
import { main } from '../../src/main.js';

const fromFile = (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

test("packageVersion() is package.json's version", () => {
  expect(fromFile).toMatch(/^\d+\.\d+\.\d+/);
  expect(packageVersion()).toBe(fromFile);
});

test('--version prints it', async () => {
  const stdout = new PassThrough();
  let out = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  const code = await main(['--version'], { env: {}, cwd: PACKAGE_ROOT, stdout, stderr: new PassThrough(), hostname: 'h', totalMemBytes: 1 });
  expect(code).toBe(0);
  expect(out.trim()).toBe(fromFile);
});

test("ls says when the daemon runs another version than the one installed (an upgrade without a restart)", async () => {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { writeSnapshot } = await import('../../src/status/snapshot.js');
  const { lsCommand } = await import('../../src/cli/ls.js');
  const dir = mkdtempSync(join(tmpdir(), 'tf-skew-'));
  try {
    const now = Date.now();
    writeSnapshot(dir, {
      schema: 1, runner_name: 'mac-a', version: '0.0.1-old', daemon_pid: process.pid, tick: 3, poll_seconds: 15,
      written_at: new Date(now).toISOString(), observed_at: new Date(now).toISOString(), stale_after: new Date(now + 60_000).toISOString(),
      ledger: { used_mb: 0, ceiling_mb: 12288, vms: 0, max_vms: 2, foreign_mb: 0 }, vms: [], queue: [], creating: [], problems: [],
      github: null, github_budget: null, give_ups: [], last_ok_tick_at: null,
      last_tick: { ok: true, failures: [], action_failures: [], degraded: [], duration_ms: 1, admitted: 0, deleted_vms: 0, deleted_runners: 0 },
      admission: 'open', draining_since: null, draining_note: null,
    });
    const stdout = new PassThrough();
    let out = '';
    stdout.on('data', (c: Buffer) => (out += c.toString()));
    await lsCommand({ env: {}, cwd: dir, stdout, stderr: new PassThrough(), hostname: 'h', totalMemBytes: 1 }, { stateDir: dir });
    expect(out).toContain(', version 0.0.1-old\n');
    expect(out).toContain(`! the daemon runs version 0.0.1-old, ${fromFile} is installed: restart it to run the new one`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
