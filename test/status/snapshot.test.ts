// The status snapshot file: atomic, world-readable, read back as written; health judged by the reader.
import { mkdtempSync, readdirSync, statSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pidAlive, readSnapshot, snapshotHealth, snapshotPath, writeSnapshot, type StatusSnapshot } from '../../src/status/snapshot.js';

const dir = mkdtempSync(join(tmpdir(), 'tf-snapshot-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const T0 = Date.parse('2026-01-01T00:00:00.000Z');
function snap(over: Partial<StatusSnapshot> = {}): StatusSnapshot {
  return {
    schema: 1, runner_name: 'mac-a', version: '0.1.0', daemon_pid: 4242, tick: 7, poll_seconds: 15,
    written_at: new Date(T0).toISOString(), observed_at: new Date(T0 - 500).toISOString(), stale_after: new Date(T0 + 45_000).toISOString(),
    ledger: { used_mb: 0, ceiling_mb: 12288, vms: 0, max_vms: 2, foreign_mb: 0 },
    vms: [], queue: [], creating: [], problems: [],
    github: { requests: 1, not_modified: 1, rate_limit_remaining: 4999, rate_limit_reset: null, coldest_repo_age_s: 0, repositories: 1, unswept_repositories: 0 },
    github_budget: null,
    last_tick: { ok: true, failures: [], action_failures: [], degraded: [], duration_ms: 10, admitted: 0, deleted_vms: 0, deleted_runners: 0 },
    last_ok_tick_at: new Date(T0).toISOString(), give_ups: [],
    admission: 'open', draining_since: null, draining_note: null,
    ...over,
  };
}

test('written atomically with mode 0600 (private repositories are named in it), no temp file left, read back unchanged', () => {
  writeSnapshot(dir, snap());
  writeSnapshot(dir, snap({ tick: 8 }));
  expect(statSync(snapshotPath(dir)).mode & 0o777).toBe(0o600);
  expect(readdirSync(dir)).toEqual(['status.json']);
  expect(readSnapshot(dir)).toEqual(snap({ tick: 8 }));
});

test('no snapshot is undefined; a file that is not one is a clear error naming it', () => {
  const empty = mkdtempSync(join(tmpdir(), 'tf-snapshot-none-'));
  expect(readSnapshot(empty)).toBeUndefined();
  writeFileSync(snapshotPath(empty), '{"half": ');
  expect(() => readSnapshot(empty)).toThrow(`${snapshotPath(empty)}: not a status snapshot`);
  writeFileSync(snapshotPath(empty), '{"schema": 9}');
  expect(() => readSnapshot(empty)).toThrow(/not a status snapshot of this version/);
  rmSync(empty, { recursive: true, force: true });
});

describe('health', () => {
  const alive = () => true;
  test('fresh and healthy', () => {
    expect(snapshotHealth(snap(), T0 + 10_000, alive)).toEqual({ age_s: 10, stale: null, degraded: [] });
  });
  test('stale past stale_after (the daemon stopped ticking), or at once when its pid is gone', () => {
    expect(snapshotHealth(snap(), T0 + 46_000, alive).stale).toMatch(/no tick for 46 s .*stuck/);
    expect(snapshotHealth(snap(), T0 + 1_000, () => false).stale).toMatch(/pid 4242\) is not running/);
  });
  test('degraded when the last tick could not read a side', () => {
    const s = snap({ last_tick: { ...snap().last_tick, ok: false, degraded: ['GitHub could not be read: HTTP 502'] } });
    expect(snapshotHealth(s, T0, alive).degraded).toEqual(['GitHub could not be read: HTTP 502']);
  });
  test('pidAlive: this process is, a pid past the kernel limit is not', () => {
    expect(pidAlive(process.pid)).toBe(true);
    expect(pidAlive(2 ** 22 + 1)).toBe(false);
  });
});
