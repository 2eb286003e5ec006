// GitHub App auth (RS256 JWT → installation token, refreshed before expiry and after a 401) against
// the fake, and building the auth option from an environment object.
import { generateKeyPairSync } from 'node:crypto';
import { harness, type Harness } from './github-helpers.js';
import { githubAuthFromEnv, GitHubAuthConfigError } from '../../src/adapters/github.js';
import { REDACTED } from '../../src/secrets/redact.js';

const { privateKey, publicKey } = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  // GitHub hands out PKCS#1 keys ("BEGIN RSA PRIVATE KEY").
  privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  publicKeyEncoding: { type: 'spki', format: 'pem' },
});
const other = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });

describe('GitHub App', () => {
  let h: Harness;
  afterEach(async () => {
    await h?.fake.stop();
  });

  test('ETags are per token (audit N7): after a new installation token the saved ETags buy nothing, every list is a counted 200 once', async () => {
    let t = Date.now();
    const now = () => t;
    h = await harness(
      { now, app: { appId: 1234, installationId: 99, publicKey, tokenTtlMs: 60 * 60_000 } },
      { now, auth: { kind: 'app', appId: 1234, installationId: 99, privateKey } },
    );
    h.fake.addRepos(10);
    await h.adapter.listJobs();
    t += 15_000;
    h.fake.resetCounters();
    const same = await h.adapter.listJobs();
    expect(same.stats.notModified).toBe(same.stats.requests); // same token: all 304
    h.fake.expireInstallationTokens();
    t += 15_000;
    const renewed = await h.adapter.listJobs();
    // One 401, then the new token: the runs lists come back 200, none 304 (the cost of each refresh).
    expect(renewed.stats.notModified).toBe(0);
    expect(renewed.stats.requests).toBeGreaterThanOrEqual(10);
    t += 15_000;
    const after = await h.adapter.listJobs();
    expect(after.stats.notModified).toBe(after.stats.requests); // new ETags, kept for the new token
  });

  test('installation token: used, refreshed before expiry, and again after a 401', async () => {
    let t = Date.now();
    const now = () => t;
    h = await harness(
      { now, app: { appId: 1234, installationId: 99, publicKey, tokenTtlMs: 10 * 60_000 } },
      { now, auth: { kind: 'app', appId: 1234, installationId: 99, privateKey } },
    );
    h.fake.addRepos(['app', 'lib']);
    h.fake.queueJob({ repo: 'app', labels: ['self-hosted', 'coder'] });

    const one = await h.adapter.listJobs();
    expect(one.jobs).toHaveLength(1);
    expect(h.fake.requestCount('GET /installation/repositories')).toBe(1);
    expect(h.fake.requestCount('GET /orgs/{org}/repos')).toBe(0);
    const [first] = h.fake.installationTokens();
    expect(first).toBeDefined();
    expect(h.fake.requestsByToken().get(first!.token)).toBeGreaterThan(0);

    // Still 6 minutes left: reused.
    t += 4 * 60_000;
    await h.adapter.listRunners();
    expect(h.fake.installationTokens()).toHaveLength(1);

    // 4 minutes left (< 5 min margin): a new token before the old one expires.
    t += 2 * 60_000;
    await h.adapter.listRunners();
    const tokens = h.fake.installationTokens();
    expect(tokens).toHaveLength(2);
    expect(h.fake.requestsByToken().get(tokens[1]!.token)).toBe(1);

    // The fake expires every token now: the adapter gets a 401, fetches a new one, retries once.
    h.fake.expireInstallationTokens();
    expect((await h.adapter.listRunners())).toEqual([]);
    const after = h.fake.installationTokens();
    expect(after).toHaveLength(3);
    expect(h.fake.requestsByToken().get(after[2]!.token)).toBe(1);

    // Tokens and the key are registered secrets and never logged.
    const text = JSON.stringify(h.entries);
    for (const tok of after) {
      expect(h.secrets.redactText(tok.token)).toBe(REDACTED);
      expect(text).not.toContain(tok.token);
    }
    expect(h.secrets.redactText(privateKey)).toBe(REDACTED);
  });

  test('a JWT signed with the wrong key is refused: the call throws', async () => {
    h = await harness(
      { app: { appId: 1234, installationId: 99, publicKey } },
      { auth: { kind: 'app', appId: 1234, installationId: 99, privateKey: other.privateKey } },
    );
    h.fake.addRepos(['app']);
    await expect(h.adapter.listJobs()).rejects.toMatchObject({ status: 401 });
    expect(h.fake.installationTokens()).toHaveLength(0);
  });

  test('a wrong app id is refused', async () => {
    h = await harness(
      { app: { appId: 1234, installationId: 99, publicKey } },
      { auth: { kind: 'app', appId: 4321, installationId: 99, privateKey } },
    );
    await expect(h.adapter.listRunners()).rejects.toMatchObject({ status: 401 });
  });
});

describe('githubAuthFromEnv', () => {
  const noFile = () => {
    throw Object.assign(new Error('nope'), { code: 'ENOENT' });
  };

  test('PAT: TART_FLEET_GITHUB_TOKEN wins over GITHUB_TOKEN', () => {
    expect(githubAuthFromEnv({ TART_FLEET_GITHUB_TOKEN: 'a-token', GITHUB_TOKEN: 'b-token' })).toEqual({ kind: 'token', token: 'a-token' });
    expect(githubAuthFromEnv({ GITHUB_TOKEN: 'b-token' })).toEqual({ kind: 'token', token: 'b-token' });
  });

  test('App is preferred over a PAT; the key may be PEM text (also with \\n escapes) or a path', () => {
    const env = { TART_FLEET_GITHUB_TOKEN: 'a-token', TART_FLEET_GITHUB_APP_ID: '12', TART_FLEET_GITHUB_APP_INSTALLATION_ID: '34', TART_FLEET_GITHUB_APP_PRIVATE_KEY: privateKey };
    expect(githubAuthFromEnv(env)).toEqual({ kind: 'app', appId: 12, installationId: 34, privateKey });
    const escaped = { ...env, TART_FLEET_GITHUB_APP_PRIVATE_KEY: privateKey.replace(/\n/g, '\\n') };
    expect(githubAuthFromEnv(escaped)).toMatchObject({ privateKey });
    const byPath = { ...env, TART_FLEET_GITHUB_APP_PRIVATE_KEY: '/etc/tart-fleet/app.pem' };
    expect(githubAuthFromEnv(byPath, (p) => (p === '/etc/tart-fleet/app.pem' ? privateKey : ''))).toMatchObject({ kind: 'app', privateKey });
  });

  test('errors name the variable and never echo a value', () => {
    expect(() => githubAuthFromEnv({})).toThrow(/TART_FLEET_GITHUB_TOKEN.*GITHUB_TOKEN.*TART_FLEET_GITHUB_APP_ID/);
    expect(() => githubAuthFromEnv({ TART_FLEET_GITHUB_APP_ID: '12' })).toThrow(
      /TART_FLEET_GITHUB_APP_INSTALLATION_ID is not set; TART_FLEET_GITHUB_APP_PRIVATE_KEY is not set/,
    );
    expect(() => githubAuthFromEnv({ TART_FLEET_GITHUB_APP_ID: 'abc', TART_FLEET_GITHUB_APP_INSTALLATION_ID: '1', TART_FLEET_GITHUB_APP_PRIVATE_KEY: privateKey })).toThrow(
      'TART_FLEET_GITHUB_APP_ID: must be a positive integer',
    );
    let err: unknown;
    try {
      githubAuthFromEnv({ TART_FLEET_GITHUB_APP_ID: '1', TART_FLEET_GITHUB_APP_INSTALLATION_ID: '2', TART_FLEET_GITHUB_APP_PRIVATE_KEY: '/secret/path.pem' }, noFile);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GitHubAuthConfigError);
    expect((err as Error).message).toMatch(/^TART_FLEET_GITHUB_APP_PRIVATE_KEY: .*ENOENT/);
    expect((err as Error).message).not.toContain('/secret/path.pem');
  });
});
