// What validate reads about the fleet (github-fleet.ts) and how it judges it (github-fleet-checks.ts),
// real Octokit against the fake GitHub: the profiles' runner groups, which groups the org's public
// repositories reach, the trust-tier verdicts (#16), runner-name length and the runner version.
import { readFileSync } from 'node:fs';
import { validateConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';
import { githubFleetChecks, longestRunnerName, PINNED_RUNNER_VERSION, runnerNameChecks, runnerOutdated } from '../../src/cli/github-fleet-checks.js';
import { decodeJitConfig } from '../../src/sim/github/broker.js';
import { harness, type Harness } from './github-helpers.js';

let h: Harness;
afterEach(async () => {
  await h?.fake.stop();
});

const HOST_LABEL = 'tf-host-mini-a';

function config(profiles: Record<string, unknown>, github: Record<string, unknown> = {}): Config {
  const raw = { github: { org: 'acme', runner_name: 'mini-a', ...github }, host: { total_ram_mb: 16384 }, profiles };
  return validateConfig(raw, 'test', { env: {}, hostname: 'test', totalMemBytes: 0 }).config;
}

/** The lines of one `what`, as `status detail`. */
const lines = (results: Array<{ status: string; what: string; detail: string }>, what: string) =>
  results.filter((r) => r.what === what).map((r) => `${r.status} ${r.detail}`);

describe('public repositories and trust tiers (#16)', () => {
  test('FAIL: a trusted profile whose group admits public repositories, in an org that has some', async () => {
    h = await harness();
    h.fake.addRepo('site', { private: false });
    h.fake.addRepo('app');
    h.fake.addRunnerGroup({ id: 1, allowsPublicRepositories: true });
    const cfg = config({ coder: { ram_mb: 2048, cpu: 2, timeout_minutes: 60 } });
    const results = await githubFleetChecks(h.adapter, cfg, HOST_LABEL, { githubFailed: false });
    const pub = lines(results, 'public repositories');
    expect(pub[0]).toBe('ok org acme has 1 public repositories (acme/site); "Default" (id 1) admits all of them (profiles coder)');
    expect(pub).toContainEqual(expect.stringMatching(/^fail trusted profile coder uses runner group "Default" \(id 1\), which allows public repositories: a fork's pull request in acme\/site could run on a trusted VM/));
    // Nothing was created on the way.
    expect(h.fake.runners()).toEqual([]);
  });

  test('ok: trusted group refusing public repositories, untrusted group admitting them with cache none and softnet', async () => {
    h = await harness();
    h.fake.addRepo('site', { private: false });
    h.fake.addRepo('docs', { private: false });
    h.fake.addRepo('app');
    h.fake.addRunnerGroup({ id: 1 }); // GitHub's default: refuses public repositories
    h.fake.addRunnerGroup({ id: 5, name: 'strangers', allowsPublicRepositories: true });
    const cfg = config({
      coder: { ram_mb: 2048, cpu: 2, timeout_minutes: 60 },
      visitor: { ram_mb: 2048, cpu: 2, timeout_minutes: 30, trust: 'untrusted', runner_group_id: 5 },
    });
    expect(cfg.profiles.visitor).toMatchObject({ cache: 'none', network: 'softnet' });
    const results = await githubFleetChecks(h.adapter, cfg, HOST_LABEL, { githubFailed: false });
    expect(lines(results, 'public repositories')).toEqual([
      'ok org acme has 2 public repositories (acme/docs, acme/site); "strangers" (id 5) admits all of them (profiles visitor)',
    ]);
    expect(results.filter((r) => r.status !== 'ok')).toEqual([]);
  });

  test('warn: an untrusted profile that receives public jobs with a read-write cache or plain NAT', async () => {
    h = await harness();
    h.fake.addRepo('site', { private: false });
    h.fake.addRunnerGroup({ id: 1 });
    h.fake.addRunnerGroup({ id: 5, name: 'strangers', allowsPublicRepositories: true });
    const cfg = config({
      coder: { ram_mb: 2048, cpu: 2, timeout_minutes: 60 },
      visitor: { ram_mb: 2048, cpu: 2, timeout_minutes: 30, trust: 'untrusted', runner_group_id: 5, cache: 'rw', network: 'nat', cache_dir: '/tmp/tf-visitor-cache' },
    });
    const results = await githubFleetChecks(h.adapter, cfg, HOST_LABEL, { githubFailed: false });
    expect(lines(results, 'public repositories')).toContainEqual(
      expect.stringMatching(/^warn profile visitor receives jobs of public repositories \(acme\/site\) with cache rw .* and network nat .*; use cache none, ro or clone and network softnet$/),
    );
    expect(results.some((r) => r.status === 'fail')).toBe(false);
  });

  test('a selected group reaches only its selected public repositories; a private-visibility group none', async () => {
    h = await harness();
    h.fake.addRepo('site', { private: false });
    h.fake.addRepo('blog', { private: false });
    h.fake.addRunnerGroup({ id: 1 });
    h.fake.addRunnerGroup({ id: 5, name: 'blog-only', visibility: 'selected', allowsPublicRepositories: true, selectedRepositories: ['blog'] });
    h.fake.addRunnerGroup({ id: 6, name: 'private-only', visibility: 'private', allowsPublicRepositories: true });
    const facts = await h.adapter.describeFleet([1, 5, 6, 42], HOST_LABEL);
    expect(facts.publicRepos).toEqual(['acme/blog', 'acme/site']);
    expect(Object.fromEntries(facts.publicReach)).toEqual({ 1: [], 5: ['acme/blog'], 6: [] });
    expect(facts.groups.get(42)).toEqual({ kind: 'not-found' });

    // The fake routes as validate predicts: a runner of group 5 gets blog's job, never site's.
    const site = h.fake.queueJob({ repo: 'site', labels: ['self-hosted', 'coder'] });
    const blog = h.fake.queueJob({ repo: 'blog', labels: ['self-hosted', 'coder'] });
    const created = await h.adapter.createJitRunner({ name: 'tf-coder-1', labels: ['self-hosted', 'coder'], runnerGroupId: 5 });
    if (created.kind !== 'created') throw new Error('setup');
    const { credentials } = decodeJitConfig(created.jit.encodedJitConfig);
    await fetch(`${h.url}/_sim/broker/sessions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${credentials.data.secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ runnerId: created.jit.runner.id }),
    });
    expect(h.fake.job(blog.jobId).status).toBe('in_progress');
    expect(h.fake.job(site.jobId).status).toBe('queued');
  });

  test("a trusted group that allows public repositories FAILs even before the org has one (audit N10: one repository made public later is a live hole)", async () => {
    h = await harness();
    h.fake.addRepo('app');
    h.fake.addRunnerGroup({ id: 1, allowsPublicRepositories: true });
    const cfg = config({ coder: { ram_mb: 2048, cpu: 2, timeout_minutes: 60 } });
    const results = await githubFleetChecks(h.adapter, cfg, HOST_LABEL, { githubFailed: false });
    expect(lines(results, 'public repositories')).toEqual([
      'ok org acme has no public repositories: no stranger\'s pull request can reach these runners',
      expect.stringMatching(/^fail trusted profile coder uses runner group "Default" \(id 1\), which allows public repositories: once any repository of the org is public, a fork's pull request there could run on a trusted VM/),
    ]);
    // A group that refuses public repositories is ok.
    h.fake.addRunnerGroup({ id: 1, allowsPublicRepositories: false });
    const fine = await githubFleetChecks(h.adapter, cfg, HOST_LABEL, { githubFailed: false });
    expect(lines(fine, 'public repositories')).toEqual(['ok org acme has no public repositories: no stranger\'s pull request can reach these runners']);
  });

  test('fail closed: an outage is a FAIL line, not an ok', async () => {
    h = await harness({}, { retry: { enabled: false } });
    h.fake.setOutage(true);
    const cfg = config({ coder: { ram_mb: 2048, cpu: 2, timeout_minutes: 60 } });
    const results = await githubFleetChecks(h.adapter, cfg, HOST_LABEL, { githubFailed: false });
    expect(lines(results, 'public repositories')).toEqual([expect.stringMatching(/^fail cannot read the org's runner groups, public repositories and runner versions: GitHub answered 502 to GET \/orgs\/acme\/actions\/runner-groups\/1: /)]);
  });
});

describe('runner version', () => {
  test('warns when this Mac\'s runners report a version older than GitHub\'s latest; others\' runners do not count', async () => {
    h = await harness({ latestRunnerVersion: '2.337.0' });
    const mine = await h.adapter.createJitRunner({ name: 'tf-coder-1', labels: ['self-hosted', 'coder', HOST_LABEL], runnerGroupId: 1 });
    await h.adapter.createJitRunner({ name: 'tf-coder-2', labels: ['self-hosted', 'coder', 'tf-host-mini-b'], runnerGroupId: 1 });
    if (mine.kind !== 'created') throw new Error('setup');
    const { credentials } = decodeJitConfig(mine.jit.encodedJitConfig);
    await fetch(`${h.url}/_sim/broker/sessions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${credentials.data.secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ runnerId: mine.jit.runner.id, version: '2.335.1' }),
    });
    const facts = await h.adapter.describeFleet([1], HOST_LABEL);
    expect(facts).toMatchObject({ latestRunnerVersion: '2.337.0', ourRunnerVersions: ['2.335.1'] });
    const cfg = config({ coder: { ram_mb: 2048, cpu: 2, timeout_minutes: 60 } });
    const results = await githubFleetChecks(h.adapter, cfg, HOST_LABEL, { githubFailed: false });
    expect(lines(results, 'runner version')).toEqual([
      expect.stringMatching(/^warn this Mac's runners report 2\.335\.1, GitHub's latest is 2\.337\.0: the runner updates itself on every boot \(~10–30 s offline\)/),
    ]);
  });

  test('without a connected runner the image pin stands in; current is ok, older warns', async () => {
    h = await harness();
    const cfg = config({ coder: { ram_mb: 2048, cpu: 2, timeout_minutes: 60 } });
    const current = await githubFleetChecks(h.adapter, cfg, HOST_LABEL, { githubFailed: false });
    expect(lines(current, 'runner version')).toEqual([`ok the image pins ${PINNED_RUNNER_VERSION} (images/scripts/30-actions-runner.sh; no runner of this Mac is connected), GitHub's latest is ${PINNED_RUNNER_VERSION}`]);
    h.fake.setLatestRunnerVersion('2.340.0');
    const behind = await githubFleetChecks(h.adapter, cfg, HOST_LABEL, { githubFailed: false });
    expect(lines(behind, 'runner version')).toEqual([expect.stringMatching(/^warn the image pins 2\.336\.0 .*GitHub's latest is 2\.340\.0: the runner updates itself on every boot/)]);
  });

  test('runnerOutdated compares dotted numbers, not strings; junk is never outdated', () => {
    expect(runnerOutdated('2.336.0', '2.337.0')).toBe(true);
    expect(runnerOutdated('2.99.0', '2.100.0')).toBe(true);
    expect(runnerOutdated('2.337.0', '2.337.0')).toBe(false);
    expect(runnerOutdated('2.338.0', '2.337.0')).toBe(false);
    expect(runnerOutdated('', '2.337.0')).toBe(false);
    expect(runnerOutdated('2.337', '2.337.0')).toBe(false);
  });

  test('the pinned version is the one images/scripts/30-actions-runner.sh installs', () => {
    const script = readFileSync(new URL('../../images/scripts/30-actions-runner.sh', import.meta.url), 'utf8');
    expect(/^PINNED_VERSION="([^"]+)"$/m.exec(script)?.[1]).toBe(PINNED_RUNNER_VERSION);
  });
});

describe('runner names', () => {
  test('tf-<profile>-<16-digit job id>-<attempt> fits 64 characters for a 40-character profile name', () => {
    const forty = 'p'.repeat(40);
    expect(longestRunnerName(forty).length).toBeLessThanOrEqual(64);
    const cfg = config({ [forty]: { ram_mb: 2048, cpu: 2, timeout_minutes: 60 } });
    expect(runnerNameChecks(cfg)).toEqual([{ status: 'ok', what: 'runner names', detail: expect.stringContaining('within GitHub\'s 64 characters (longest 63') }]);
  });

  test('a name that cannot fit fails, and the fake GitHub really refuses it', async () => {
    const cfg = config({ coder: { ram_mb: 2048, cpu: 2, timeout_minutes: 60 } });
    // The schema caps profile names; a name that slipped past it is still caught here.
    const long = 'q'.repeat(45);
    cfg.profiles[long] = { ...cfg.profiles.coder!, name: long };
    const results = runnerNameChecks(cfg);
    expect(results).toEqual([expect.objectContaining({ status: 'fail', detail: expect.stringMatching(new RegExp(`^profile ${long}: runner names like tf-${long}-9{16}-99 \\(68 characters\\) exceed GitHub's 64; .*at most 41 characters$`)) })]);
    h = await harness({}, { throttle: { enabled: false } });
    await expect(h.adapter.createJitRunner({ name: longestRunnerName(long), labels: ['self-hosted', long], runnerGroupId: 1 })).rejects.toMatchObject({ status: 422 });
  });
});
