// What `drain --wait` concludes from one status snapshot: idle only on a fresh snapshot that saw the
// drain and shows no VM and no creation; unknown when it cannot tell; busy with what still runs.
import { drainProgress } from '../../src/cli/drain.js';
import type { StatusSnapshot } from '../../src/status/snapshot.js';

const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const DRAINED = T0 - 10_000;
const alive = () => true;

function snap(over: Partial<StatusSnapshot> = {}): StatusSnapshot {
  return {
    schema: 1, runner_name: 'mac-a', version: '0.1.0', daemon_pid: 4242, tick: 7, poll_seconds: 15,
    written_at: new Date(T0).toISOString(), observed_at: new Date(T0 - 500).toISOString(), stale_after: new Date(T0 + 45_000).toISOString(),
    ledger: { used_mb: 0, ceiling_mb: 12288, vms: 0, max_vms: 2, foreign_mb: 0 },
    vms: [], queue: [], creating: [], problems: [], github: null, github_budget: null,
    last_tick: { ok: true, failures: [], action_failures: [], degraded: [], duration_ms: 10, admitted: 0, deleted_vms: 0, deleted_runners: 0 },
    last_ok_tick_at: new Date(T0).toISOString(), give_ups: [],
    admission: 'draining', draining_since: new Date(DRAINED).toISOString(), draining_note: 'drained at …',
    ...over,
  };
}

const vm = { name: 'tf-mac-a-coder-9', profile: 'coder', state: 'running', repo: 'acme/app', job_id: 9, age_s: 50, ram_mb: 2048, cpu: 2, ip: null, runner: 'tf-coder-9', runner_status: 'busy', creating: false };

test('idle: a fresh snapshot that saw the drain, no VM, no creation', () => {
  expect(drainProgress(snap(), DRAINED, T0, alive, '/s')).toEqual({ kind: 'idle' });
});

test('busy: says which VMs still run which jobs, and the creations under way', () => {
  const p = drainProgress(snap({ vms: [vm], creating: [{ vm: 'tf-mac-a-coder-10', profile: 'coder', job_id: 10, age_s: 3 }] }), DRAINED, T0, alive, '/s');
  expect(p).toEqual({ kind: 'busy', line: '1 VM(s) of this host still run: tf-mac-a-coder-9 (running job 9 of acme/app); 1 creation(s) under way: tf-mac-a-coder-10' });
});

test('not idle before a tick has seen the drain, nor while tart is unreadable', () => {
  expect(drainProgress(snap({ admission: 'open' }), DRAINED, T0, alive, '/s')).toMatchObject({ kind: 'unknown', final: false });
  expect(drainProgress(snap({ observed_at: new Date(DRAINED - 1).toISOString() }), DRAINED, T0, alive, '/s')).toMatchObject({ kind: 'unknown', final: false });
  expect(drainProgress(snap({ ledger: { used_mb: null, ceiling_mb: 12288, vms: null, max_vms: 2, foreign_mb: null } }), DRAINED, T0, alive, '/s')).toMatchObject({ kind: 'unknown', final: false, line: expect.stringMatching(/tart could not be read/) });
});

test('cannot tell (final): no snapshot, its daemon gone, or stuck', () => {
  expect(drainProgress(undefined, DRAINED, T0, alive, '/s')).toMatchObject({ kind: 'unknown', final: true, line: expect.stringMatching(/^no status snapshot in \/s/) });
  expect(drainProgress(snap(), DRAINED, T0, () => false, '/s')).toMatchObject({ kind: 'unknown', final: true, line: expect.stringMatching(/pid 4242\) is not running/) });
  expect(drainProgress(snap(), DRAINED, T0 + 60_000, alive, '/s')).toMatchObject({ kind: 'unknown', final: true, line: expect.stringMatching(/stuck/) });
});
