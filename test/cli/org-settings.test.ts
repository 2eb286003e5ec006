// validate reads the org setting the security checklist depends on that the REST API exposes: the
// default GITHUB_TOKEN permissions and whether Actions may approve pull requests
// (GET /orgs/{org}/actions/permissions/workflow; classic tokens need admin:org, Apps the
// Administration organization permission). Real Octokit against the fake GitHub.
import { validateConfig } from '../../src/config/load.js';
import { githubFleetChecks } from '../../src/cli/github-fleet-checks.js';
import { harness, type Harness } from '../adapters/github-helpers.js';

let h: Harness;
afterEach(async () => {
  await h?.fake.stop();
});

const config = validateConfig({ github: { org: 'acme', runner_name: 'mini-a' }, host: { total_ram_mb: 16384 }, profiles: { coder: { ram_mb: 2048, cpu: 2, timeout_minutes: 60 } } }, 'test', { env: {}, hostname: 'test', totalMemBytes: 0 }).config;
const orgLines = async () => (await githubFleetChecks(h.adapter, config, 'tf-host-mini-a', { githubFailed: false })).filter((r) => r.what === 'org settings').map((r) => `${r.status} ${r.detail}`);

test("GitHub's defaults (read-only token, no approvals) are ok; a writable default and approvals warn, with the setting to change", async () => {
  h = await harness();
  expect(await orgLines()).toEqual(['ok org acme: default GITHUB_TOKEN read-only, Actions may not approve pull requests']);
  h.fake.world.workflowPermissions = { defaultWorkflowPermissions: 'write', canApprovePullRequestReviews: true };
  expect(await orgLines()).toEqual([
    expect.stringMatching(/^warn org acme's default GITHUB_TOKEN permissions are "write": every workflow, a stranger's included, gets a writable token/),
    'warn org acme lets GitHub Actions create and approve pull requests',
  ]);
});

test('credentials that cannot read it say so (a warning naming the permission), and the other checks still run', async () => {
  h = await harness({ pat: { kind: 'fine-grained', permissions: { organization_self_hosted_runners: 'write' } } });
  const results = await githubFleetChecks(h.adapter, config, 'tf-host-mini-a', { githubFailed: false });
  expect(results.filter((r) => r.what === 'org settings').map((r) => `${r.status} ${r.detail}`)).toEqual([
    expect.stringMatching(/^warn cannot read org acme's default GITHUB_TOKEN permissions \(403 .*needs admin:org, or the App's Administration organization permission, read\)/),
  ]);
  expect(results.some((r) => r.what === 'public repositories')).toBe(true);
});
