import { decide, JOB_PHASES, RUNNER_PHASES, VM_PHASES, type JobPhase, type RunnerPhase, type VmPhase } from '../../src/core/lifecycle.js';

// The whole transition table, written out: one letter per runner phase, in RUNNER_PHASES order
// (unknown absent registered idle idle-expired busy updating lost).
// k = keep, V = delete the VM, R = delete the runner, B = both. Column order is checked below, so a new
// phase (of any of the three kinds) without a row here fails this test.
const EXPECTED: Record<JobPhase, Record<VmPhase, string>> = {
  queued: {
    absent:   'kkRRRRRR',
    creating: 'kkkkkkkk',
    stopped:  'VVBBBBBB',
    booting:  'kVkkBkkB',
    running:  'kVBkBkkB',
    overdue:  'VVBBBBBB',
  },
  started: {
    absent:   'kkRRRRRR',
    creating: 'kkkkkkkk',
    stopped:  'VVBBBBBB',
    booting:  'kVkkBkkB',
    running:  'kVBkBkkB',
    overdue:  'VVBBBBBB',
  },
  // Ghost demand: the claim's job vanished and nothing of its profile is queued.
  gone: {
    absent:   'kkRRRRRR',
    creating: 'kkkkkkkk',
    stopped:  'VVBBBBBB',
    booting:  'kVBBBkkB',
    running:  'kVBBBkkB',
    overdue:  'VVBBBBBB',
  },
  unknown: {
    absent:   'kkRRRRRR',
    creating: 'kkkkkkkk',
    stopped:  'VVBBBBBB',
    booting:  'kVkkBkkB',
    running:  'kVBkBkkB',
    overdue:  'VVBBBBBB',
  },
};

function code(vm: VmPhase, runner: RunnerPhase, job: JobPhase): string {
  const d = decide(vm, runner, job);
  expect(d.reason.length).toBeGreaterThan(5);
  return d.deleteVm && d.deleteRunner ? 'B' : d.deleteVm ? 'V' : d.deleteRunner ? 'R' : 'k';
}

test('the table covers every VM phase x runner phase x job phase, exactly as written out', () => {
  expect(RUNNER_PHASES).toEqual(['unknown', 'absent', 'registered', 'idle', 'idle-expired', 'busy', 'updating', 'lost']);
  expect(Object.keys(EXPECTED).sort()).toEqual([...JOB_PHASES].sort());
  for (const job of JOB_PHASES) {
    expect(Object.keys(EXPECTED[job]).sort()).toEqual([...VM_PHASES].sort());
    for (const vm of VM_PHASES) {
      const row = RUNNER_PHASES.map((r) => code(vm, r, job)).join('');
      expect(`${job}/${vm}: ${row}`).toBe(`${job}/${vm}: ${EXPECTED[job][vm]}`);
    }
  }
});

test('fail closed: with GitHub unread, only a stopped or overdue VM is deleted, never a runner', () => {
  for (const vm of VM_PHASES) {
    const d = decide(vm, 'unknown', 'unknown');
    expect(d.deleteRunner).toBe(false);
    expect(d.deleteVm).toBe(vm === 'stopped' || vm === 'overdue');
  }
});

test('a busy runner in a live VM is never touched, whatever the job shows', () => {
  for (const job of JOB_PHASES) for (const vm of ['booting', 'running'] as const) {
    expect(decide(vm, 'busy', job)).toMatchObject({ deleteVm: false, deleteRunner: false });
  }
});

test('every decision carries a cause code that agrees with what it does: keeps keep, deletions delete, a failed attempt is its own cause', () => {
  const keeps = new Set(['nothing', 'github-unread', 'being-created', 'booting', 'waiting-for-job', 'running-job', 'runner-updating']);
  for (const job of JOB_PHASES) for (const vm of VM_PHASES) for (const runner of RUNNER_PHASES) {
    const d = decide(vm, runner, job);
    const where = `${job}/${vm}/${runner}: ${d.cause}`;
    expect(`${where} ${keeps.has(d.cause) ? 'keeps' : 'deletes'}`).toBe(`${where} ${d.deleteVm || d.deleteRunner ? 'deletes' : 'keeps'}`);
    if (d.failure) expect(d.cause).toBe(d.failure);
  }
});
