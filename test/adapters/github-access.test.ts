// What validate reads about the credentials and the runner group, through real Octokit against the
// fake GitHub: App installation permissions, a classic PAT's x-oauth-scopes, a fine-grained PAT's
// silence, and the runner group found, missing or forbidden. Nothing is created on the way.
import { generateKeyPairSync } from 'node:crypto';
import { harness, TOKEN, type Harness } from './github-helpers.js';

const { privateKey, publicKey } = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  publicKeyEncoding: { type: 'spki', format: 'pem' },
});
const APP = { appId: 1234, installationId: 99 };

let h: Harness;
afterEach(async () => {
  await h?.fake.stop();
});

/** Nothing validate does may change the world. */
function expectNothingCreated(): void {
  expect(h.fake.runners()).toEqual([]);
  expect(h.fake.requestCount('POST /orgs/{org}/actions/runners/generate-jitconfig')).toBe(0);
}

describe('classic PAT', () => {
  test('scopes from x-oauth-scopes; the Default group in full', async () => {
    h = await harness();
    const access = await h.adapter.describeAccess(1);
    expect(access).toEqual({
      org: 'acme',
      runnerGroupId: 1,
      token: { kind: 'classic', scopes: ['admin:org', 'repo'] },
      runnerGroup: {
        kind: 'found',
        group: { id: 1, name: 'Default', visibility: 'all', isDefault: true, inherited: false, allowsPublicRepositories: false, restrictedToWorkflows: false, selectedWorkflows: [] },
      },
    });
    expect(h.fake.requestCount('GET /orgs/{org}/actions/runner-groups/{runner_group_id}')).toBe(1);
    expectNothingCreated();
  });

  test('a missing group is not-found; a selected, workflow-restricted group is read as such', async () => {
    h = await harness();
    h.fake.addRunnerGroup({ id: 7, name: 'macs', visibility: 'selected', allowsPublicRepositories: true, restrictedToWorkflows: true, selectedWorkflows: ['acme/app/.github/workflows/ci.yml@refs/heads/main'] });
    expect((await h.adapter.describeAccess(42)).runnerGroup).toEqual({ kind: 'not-found' });
    expect((await h.adapter.describeAccess(7)).runnerGroup).toEqual({
      kind: 'found',
      group: { id: 7, name: 'macs', visibility: 'selected', isDefault: false, inherited: false, allowsPublicRepositories: true, restrictedToWorkflows: true, selectedWorkflows: ['acme/app/.github/workflows/ci.yml@refs/heads/main'] },
    });
  });

  test('without admin:org: scopes still read from the 403, the group forbidden', async () => {
    h = await harness({ pat: { kind: 'classic', scopes: ['repo', 'workflow'] } });
    expect(await h.adapter.describeAccess(1)).toMatchObject({
      token: { kind: 'classic', scopes: ['repo', 'workflow'] },
      runnerGroup: { kind: 'forbidden', message: 'Must have admin rights to Repository.' },
    });
    // The same token really cannot create a runner (what validate warns about without trying).
    await expect(h.adapter.createJitRunner({ name: 'tf-coder-1', labels: ['self-hosted', 'coder'], runnerGroupId: 1 })).rejects.toMatchObject({ status: 403 });
  });

  test('a classic token with no scopes has an empty header: classic, no scopes', async () => {
    h = await harness({ pat: { kind: 'classic', scopes: [] } });
    expect((await h.adapter.describeAccess(1)).token).toEqual({ kind: 'classic', scopes: [] });
  });
});

test('fine-grained PAT: no x-oauth-scopes header, nothing more can be known', async () => {
  h = await harness({ pat: { kind: 'fine-grained' } });
  expect(await h.adapter.describeAccess(1)).toMatchObject({ token: { kind: 'fine-grained' }, runnerGroup: { kind: 'found' } });
  expectNothingCreated();
});

test('bad credentials are thrown, not reported as a kind of token', async () => {
  h = await harness();
  h.fake.revokeTokens();
  await expect(h.adapter.describeAccess(1)).rejects.toMatchObject({ status: 401 });
});

describe('GitHub App', () => {
  const appAuth = { auth: { kind: 'app' as const, ...APP, privateKey } };

  test('the installation token carries the permissions the daemon needs by default', async () => {
    h = await harness({ app: { ...APP, publicKey } }, appAuth);
    const access = await h.adapter.describeAccess(1);
    expect(access.token).toEqual({
      kind: 'app',
      permissions: { organization_self_hosted_runners: 'write', actions: 'read', metadata: 'read' },
      repositorySelection: 'all',
    });
    expect(access.runnerGroup).toMatchObject({ kind: 'found', group: { name: 'Default' } });
    expect(h.fake.installationTokens()).toHaveLength(1);
    expectNothingCreated();
    // Never the token itself.
    expect(JSON.stringify(access)).not.toContain(h.fake.installationTokens()[0]!.token);
  });

  test('read-only runners permission: reported as such, and the daemon really could not create runners', async () => {
    h = await harness({ app: { ...APP, publicKey, permissions: { organization_self_hosted_runners: 'read', metadata: 'read' } } }, appAuth);
    expect((await h.adapter.describeAccess(1)).token).toEqual({
      kind: 'app',
      permissions: { organization_self_hosted_runners: 'read', metadata: 'read' },
      repositorySelection: 'all',
    });
    await expect(h.adapter.createJitRunner({ name: 'tf-coder-1', labels: ['self-hosted', 'coder'], runnerGroupId: 1 })).rejects.toMatchObject({
      status: 403,
      message: expect.stringContaining('Resource not accessible by integration'),
    });
  });

  test('no runners permission at all: the group is forbidden, the permissions still known', async () => {
    h = await harness({ app: { ...APP, publicKey, permissions: { actions: 'read', metadata: 'read' } } }, appAuth);
    expect(await h.adapter.describeAccess(1)).toMatchObject({
      token: { kind: 'app', permissions: { actions: 'read', metadata: 'read' } },
      runnerGroup: { kind: 'forbidden', message: 'Resource not accessible by integration' },
    });
  });

  test('permissions accepted later show up with the next installation token', async () => {
    h = await harness({ app: { ...APP, publicKey, permissions: { metadata: 'read' } } }, appAuth);
    expect((await h.adapter.describeAccess(1)).token).toMatchObject({ permissions: { metadata: 'read' } });
    h.fake.setAppPermissions({ organization_self_hosted_runners: 'write', actions: 'write', metadata: 'read' });
    h.fake.expireInstallationTokens();
    // The 401 makes the adapter fetch a new token, which carries the new permissions.
    expect((await h.adapter.describeAccess(1)).token).toMatchObject({ permissions: { organization_self_hosted_runners: 'write', actions: 'write' } });
  });
});

test('the PAT never appears in what describeAccess returns or logs', async () => {
  h = await harness();
  const access = await h.adapter.describeAccess(42);
  expect(JSON.stringify(access)).not.toContain(TOKEN);
  expect(JSON.stringify(h.entries)).not.toContain(TOKEN);
});
