// `validate` never misleads about GitHub: the first line names the real cause (an unknown org, a URL
// that is not the GitHub API, an endpoint this server lacks) and no follow-on line re-diagnoses it as
// something else. The fake GitHub answers each case as GitHub does (src/sim/github/server.ts:
// JSON 404 for an unknown org or endpoint; HTML outside /api/v3 on an Enterprise Server host).
import { jest } from '@jest/globals';
import { SimWorld } from '../../src/sim/world.js';
import { FakeGitHub } from '../../src/sim/github/server.js';
import { runBin, simWorldForAll } from './cli-helpers.js';

jest.setTimeout(120_000);

let world: SimWorld;
simWorldForAll({}, (w) => (world = w));

const validate = (env: NodeJS.ProcessEnv, w: SimWorld = world) => runBin(['validate', '--config', w.configPath], { env, cwd: w.dir });

test('a wrong org: "org X not found (or the token cannot see it)", and no runner-group misdiagnosis after it', async () => {
  const { code, stdout } = await validate(world.daemonEnv({ TART_FLEET_GITHUB_ORG: 'wrong-org' }));
  expect(code).toBe(1);
  expect(stdout).toMatch(/^FAIL github: org wrong-org not found \(or the token cannot see it\): GitHub answered 404 to GET \/orgs\/wrong-org\/actions\/runners — fix: check github\.org/m);
  expect(stdout).not.toMatch(/^FAIL runner group/m);
  expect(stdout).not.toMatch(/Not Found - https/);
  // What the token is still holds (its scopes come with every answer, the 404 too).
  expect(stdout).toMatch(/^ok {3}github token: classic PAT with admin:org and repo/m);
});

test('an api_url that is not the GitHub API (a GHES host without /api/v3): one line, no page, no guess about the token', async () => {
  const ghes = new FakeGitHub({ org: 'sim-org', tokens: [world.token], pathPrefix: '/api/v3' });
  const apiUrl = await ghes.start();
  try {
    const wrong = await validate(world.daemonEnv({ TART_FLEET_GITHUB_API_URL: ghes.webUrl }));
    expect(wrong.code).toBe(1);
    const githubLines = wrong.stdout.split('\n').filter((l) => /^(FAIL|warn|ok {2}) (github|runner|public)/.test(l));
    expect(githubLines).toEqual([
      `FAIL github: ${ghes.webUrl}: this URL does not answer like the GitHub API (HTTP 404 text/html, not JSON); token and runner group not checked — fix: set github.api_url (TART_FLEET_GITHUB_API_URL) to https://api.github.com, or https://HOST/api/v3 for GitHub Enterprise Server`,
    ]);
    expect(wrong.stdout).not.toMatch(/<|html lang|fine-grained/i);
    // The same server with /api/v3 is the API.
    const right = await validate(world.daemonEnv({ TART_FLEET_GITHUB_API_URL: apiUrl }));
    expect(right.stdout).toMatch(/^ok {3}github runners: /m);
  } finally {
    await ghes.stop();
  }
});

test('GITHUB_API_URL is honoured as an alias of TART_FLEET_GITHUB_API_URL (which wins when both are set)', async () => {
  const env = world.daemonEnv({ GITHUB_API_URL: world.apiUrl });
  delete env.TART_FLEET_GITHUB_API_URL;
  const { stdout } = await validate(env);
  expect(stdout).toMatch(new RegExp(`^ok {3}github runners: ${world.apiUrl.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: org sim-org readable`, 'm'));
  const both = await validate(world.daemonEnv({ GITHUB_API_URL: 'http://127.0.0.1:9/not-this-one' }));
  expect(both.stdout).toMatch(/^ok {3}github runners: /m);
});

test('any other GITHUB_<KEY> tart-fleet has a setting for is refused, naming the TART_FLEET_ variable (exit 2)', async () => {
  const { code, stderr } = await validate(world.daemonEnv({ GITHUB_ORG: 'sim-org', GITHUB_APP_ID: '12', GITHUB_REPOSITORY: 'someone/else' }));
  expect(code).toBe(2);
  expect(stderr.trim().split('\n')).toEqual([
    'GITHUB_APP_ID: not read by tart-fleet (of the GITHUB_* variables only GITHUB_TOKEN and GITHUB_API_URL are); set TART_FLEET_GITHUB_APP_ID instead, or unset it',
    'GITHUB_ORG: not read by tart-fleet (of the GITHUB_* variables only GITHUB_TOKEN and GITHUB_API_URL are); set TART_FLEET_GITHUB_ORG instead, or unset it',
  ]);
});

test('a 404 from the runner downloads endpoint is reported as what it is; the other org facts still are', async () => {
  const hub = new FakeGitHub({ org: 'sim-org', tokens: [world.token], missingEndpoints: ['GET /orgs/{org}/actions/runners/downloads'] });
  const apiUrl = await hub.start();
  const other = await SimWorld.create({ github: { server: hub, apiUrl, token: world.token } });
  try {
    const { stdout } = await validate(other.daemonEnv(), other);
    expect(stdout).toMatch(/^warn runner version: GitHub answered 404 Not Found to GET \/orgs\/sim-org\/actions\/runners\/downloads \(this server does not offer the runner downloads list\): cannot tell whether the image's runner \(2\.336\.0 pinned\) is current$/m);
    expect(stdout).toMatch(/^ok {3}public repositories: org sim-org has no public repositories/m);
    expect(stdout).not.toMatch(/^FAIL/m);
  } finally {
    await other.destroy();
    await hub.stop();
  }
});

test('run and selftest without credentials name the _FILE forms (the ones the launchd plist can carry)', async () => {
  const env = world.daemonEnv();
  delete env.TART_FLEET_GITHUB_TOKEN;
  delete env.TART_FLEET_SSH_PASSWORD;
  const run = (args: string[]) => runBin([...args, '--config', world.configPath], { env, cwd: world.dir });
  const daemon = await run(['run', '--once']);
  expect(daemon.code).toBe(2);
  expect(daemon.stderr).toContain('TART_FLEET_GITHUB_TOKEN_FILE=<path of a chmod 600 file>');
  const selftest = await run(['selftest']);
  expect(selftest.code).toBe(2);
  expect(selftest.stderr).toContain('TART_FLEET_SSH_PASSWORD_FILE=<path of a chmod 600 file>');
});
