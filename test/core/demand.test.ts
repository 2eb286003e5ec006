// The demand rule as a table: queued jobs, claims and runners in; which jobs get a new VM out.
import { demandFor, unservedCount, type ProfileDemand } from '../../src/core/demand.js';
import type { Runner } from '../../src/core/ports.js';
import { job, runner } from './world.js';

test.each([
  // queued, runners that can take one, creations not yet listed → unserved
  [3, 0, 0, 3],
  [3, 1, 0, 2],
  [3, 1, 1, 1],
  [1, 2, 0, 0],
  [0, 0, 1, 0],
])('unserved(%i queued, %i live runners, %i creating) = %i', (queued, live, creating, expected) => {
  expect(unservedCount(queued, live, creating)).toBe(expected);
});

function demand(parts: Partial<ProfileDemand> & { runners?: Runner[]; live?: Runner[] }): ProfileDemand {
  const runners = parts.runners ?? [];
  return {
    queued: parts.queued ?? [],
    claimsOf: (jobId) => runners.filter((r) => r.name.startsWith(`tf-coder-${jobId}`)),
    canTakeJob: new Set(parts.live ?? []),
    creatingHere: parts.creatingHere ?? (() => false),
    creatingNotYetListed: parts.creatingNotYetListed ?? 0,
    ownedHere: parts.ownedHere ?? ((r) => r.labels.includes('tf-host-mac-a')),
    gaveUp: parts.gaveUp ?? (() => undefined),
  };
}

const summary = (d: ProfileDemand) => demandFor(d).map((s) => (s.kind === 'claim' ? `claim ${s.job.id}-${s.attempt}` : `wait ${s.job.id}: ${s.reason}`));

test('the oldest unclaimed jobs get the unserved slots; a live claim, a creation or a give-up waits with its reason', () => {
  const [a, b, c, d, e] = [1, 2, 3, 4, 5].map((id) => job('coder', { id }));
  const mine = runner('coder', 2, { status: 'online', everConnected: true });
  const idleElsewhere = runner('coder', 99, { host: 'mac-b', status: 'online', everConnected: true });
  expect(summary(demand({
    queued: [a!, b!, c!, d!, e!],
    runners: [mine, idleElsewhere],
    live: [mine, idleElsewhere],
    creatingHere: (id) => id === 3,
    creatingNotYetListed: 1,
    gaveUp: (id) => (id === 4 ? 'gave up after 3 failed attempts' : undefined),
  }))).toEqual([
    // 5 queued - 2 live runners - 1 creation = 2 slots: job 1 takes one, 5 the other.
    'claim 1-1',
    'wait 2: claimed by tf-coder-2 (this Mac); waiting for its runner',
    'wait 3: claimed by this Mac; VM being created',
    'wait 4: gave up after 3 failed attempts',
    'claim 5-1',
  ]);
});

test("a claim that can no longer take a job is retried with the next suffix; another Mac's dead claim is named", () => {
  const j = job('coder', { id: 7 });
  const deadElsewhere = runner('coder', 7, { host: 'mac-b' });
  const [s] = demandFor(demand({ queued: [j], runners: [deadElsewhere], live: [] }));
  expect(s).toEqual({ kind: 'claim', job: j, attempt: 2, note: "another Mac's claim tf-coder-7 never connected within the boot timeout; serving it here" });
  const swapped = runner('coder', 7, { attempt: 2, busy: true, status: 'online', everConnected: true });
  expect(summary(demand({ queued: [j], runners: [swapped], live: [] }))).toEqual(['claim 7-3']);
});
