// A public repository's job that names a trusted profile's labels costs no VM (core/public-jobs.ts):
// GitHub does not give it to a runner of a group that does not allow public repositories (the fake
// GitHub's broker models this: src/sim/github/state.ts), so each VM would only boot, wait and be
// given up on (audit turn4-security e6: 3 boots per job). The sweep learns visibility from the
// repository list, shown against the fake GitHub below.
import type { Action } from '../../src/core/model.js';
import { harness, type Harness } from '../adapters/github-helpers.js';
import { job, NOW, observed, plan, seedConfig } from './world.js';

const creates = (actions: Action[]) => actions.flatMap((a) => (a.kind === 'create' ? [`${a.job.repo} ${a.claim.profile}`] : []));
const tiers = seedConfig({
  host: { max_vms: 6 },
  profiles: {
    coder: { ram_mb: 2048, cpu: 2, timeout_minutes: 60 },
    pr: { ram_mb: 2048, cpu: 2, timeout_minutes: 30, trust: 'untrusted', runner_group_id: 2 },
  },
});

test("a public repository's job on a trusted profile's labels gets no VM and says why; on untrusted labels it does", () => {
  const onTrusted = job('coder', { repo: 'acme/site', repoPublic: true, createdAt: NOW - 90_000 });
  const onUntrusted = job('pr', { repo: 'acme/site', repoPublic: true });
  const privateJob = job('coder', { repo: 'acme/app', repoPublic: false });
  const unknown = job('coder', { repo: 'acme/lib' });
  const p = plan(observed({ jobs: [onTrusted, onUntrusted, privateJob, unknown] }), tiers);
  expect(creates(p.actions).sort()).toEqual(['acme/app coder', 'acme/lib coder', 'acme/site pr']);
  expect(p.queue.find((q) => q.job_id === onTrusted.id)?.reason)
    .toBe("acme/site is public: trusted profile coder's runner group does not take public repositories' jobs, so a VM would never get it; give the workflow an untrusted profile's labels");
});

describe('the sweep marks jobs of public repositories', () => {
  let h: Harness;
  afterEach(async () => {
    await h?.fake.stop();
  });

  test('from the repository list: public true, private false', async () => {
    h = await harness();
    h.fake.addRepo('site', { private: false });
    h.fake.addRepo('app');
    const pub = h.fake.queueJob({ repo: 'site', labels: ['self-hosted', 'coder'] });
    const priv = h.fake.queueJob({ repo: 'app', labels: ['self-hosted', 'coder'] });
    const demand = await h.adapter.listJobs();
    const byId = new Map(demand.jobs.map((j) => [j.id, j]));
    expect(byId.get(pub.jobId)).toMatchObject({ repo: 'acme/site', repoPublic: true });
    expect(byId.get(priv.jobId)).toMatchObject({ repo: 'acme/app', repoPublic: false });
  });
});
