// The boot-proof gate (core/proof-gate.ts) and its one hook in the planner: a profile whose image
// failed its boot proof claims no jobs, and the job's waiting reason says why and what to do.
import type { Action } from '../../src/core/model.js';
import { proofGate, type BootProofView } from '../../src/core/proof-gate.js';
import { job, observed, plan, seedConfig } from './world.js';

const creates = (actions: Action[]) => actions.filter((a) => a.kind === 'create').map((a) => (a.kind === 'create' ? a.job.id : 0));

const failed: BootProofView = {
  workhorse: { status: 'failed', reason: 'keychain: Error Domain=VZErrorDomain Code=1', fix: 'unlock the login keychain' },
};

test('no proof (off, or an observer without a daemon) gates nothing; pending and failed images gate; a too-small profile gates alone', () => {
  expect(proofGate(undefined, 'workhorse', 'coder')).toBeUndefined();
  expect(proofGate({}, 'workhorse', 'coder')).toBeUndefined();
  expect(proofGate({ workhorse: { status: 'passed' } }, 'workhorse', 'coder')).toBeUndefined();
  expect(proofGate({ workhorse: { status: 'pending' } }, 'workhorse', 'coder')).toMatch(/^image workhorse: boot proof under way/);
  expect(proofGate(failed, 'workhorse', 'coder')).toBe('image workhorse failed its boot proof: keychain: Error Domain=VZErrorDomain Code=1 — fix: unlock the login keychain');
  const small: BootProofView = { workhorse: { status: 'passed', profiles: { coder: { reason: 'ram_mb 2048 is below the minimum', fix: 'raise ram_mb' } } } };
  expect(proofGate(small, 'workhorse', 'coder')).toBe('profile coder cannot boot image workhorse: ram_mb 2048 is below the minimum — fix: raise ram_mb');
  expect(proofGate(small, 'workhorse', 'marketer')).toBeUndefined();
});

test('the planner: jobs of a failed image wait with the reason, jobs of a passed image are admitted', () => {
  const config = seedConfig({ profiles: { marketer: { ram_mb: 5120, cpu: 4, timeout_minutes: 30 }, coder: { ram_mb: 2048, cpu: 2, timeout_minutes: 60, os: 'linux', image: 'workhorse-linux' } } });
  const mac = job('marketer');
  const linux = job('coder');
  const scene = observed({ jobs: [mac, linux] });
  const p = plan({ ...scene, bootProof: { ...failed, 'workhorse-linux': { status: 'passed' } } }, config);
  expect(creates(p.actions)).toEqual([linux.id]);
  expect(p.queue.find((q) => q.job_id === mac.id)?.reason).toMatch(/^image workhorse failed its boot proof: keychain/);
  // Without a proof the same scene admits both: the gate acts only on evidence.
  expect(creates(plan(scene, config).actions).sort()).toEqual([mac.id, linux.id].sort());
});
