// End-to-end on a corporate network (issue #31): the fake GitHub serves its API over TLS with a
// certificate from a private CA, at a host name only the office proxy can resolve. The unchanged
// daemon, given HTTPS_PROXY and NODE_EXTRA_CA_CERTS as an operator would set them, runs jobs there;
// every byte to the API went through the proxy's tunnels. `validate` in the same environment says
// which proxy and CA it uses and passes.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { jest } from '@jest/globals';
import { PACKAGE_ROOT } from '../../src/config/package.js';
import { FakeGitHub } from '../../src/sim/github/server.js';
import { SimWorld } from '../../src/sim/world.js';
import { makePrivateCa } from '../net/private-ca.js';
import { startConnectProxy, type TestProxy } from '../net/connect-proxy.js';
import { expectRanOnceOnProfile, jobsDone, ourVms, scaledTimeout, waitFor } from './helpers.js';

jest.setTimeout(scaledTimeout(150_000));
const execFileP = promisify(execFile);
const NAME = 'github.sim.test';
const TOKEN = 'ghp_corporatenetwork0123456789abcdefghij';

let github: FakeGitHub | undefined;
let proxy: TestProxy | undefined;
let world: SimWorld | undefined;
afterEach(async () => {
  await world?.destroy();
  await proxy?.close();
  await github?.stop();
});

test('the daemon runs jobs against a GitHub reachable only through a proxy, over TLS with a private CA', async () => {
  const ca = makePrivateCa([NAME]);
  github = new FakeGitHub({ org: 'sim-org', tokens: [TOKEN], tls: { key: ca.key, cert: ca.cert }, hostname: NAME });
  const apiUrl = await github.start();
  proxy = await startConnectProxy({ [NAME]: '127.0.0.1' });
  world = await SimWorld.create({ speed: 40, github: { server: github, apiUrl, token: TOKEN } });
  const caFile = join(world.dir, 'company-ca.pem');
  writeFileSync(caFile, ca.caPem);
  const office = { HTTPS_PROXY: proxy.url, NODE_EXTRA_CA_CERTS: caFile };

  const validate = await execFileP(process.execPath, [join(PACKAGE_ROOT, 'bin', 'tart-fleet.js'), 'validate', '--config', world.configPath], { env: world.daemonEnv(office), cwd: world.dir })
    .then((r) => ({ code: 0, stdout: r.stdout }), (e: { code: number; stdout: string }) => ({ code: e.code, stdout: e.stdout }));
  expect(validate.stdout).toMatch(new RegExp(`^ok {3}proxy: https://${NAME.replace(/\./g, '\\.')}:\\d+ is reached through ${proxy.url.replace(/\./g, '\\.')} \\(from HTTPS_PROXY\\)$`, 'm'));
  expect(validate.stdout).toMatch(/^ok {3}extra CA: NODE_EXTRA_CA_CERTS=.*company-ca\.pem: 1 certificate\(s\)/m);
  expect(validate.stdout).toMatch(/^ok {3}github token: /m);
  expect(validate.stdout).not.toMatch(/^FAIL/m);
  expect(validate.code).toBe(0);

  const ids = [world.queue('coder', { durationS: 20 }), world.queue('developer', { durationS: 20 })];
  world.startDaemon(['run'], office);
  await waitFor('both jobs done and their VMs gone', async () => jobsDone(world!, ids) && (await ourVms(world!)).length === 0, 90_000, 200);
  expectRanOnceOnProfile(world, ids);
  expect(await world.stopDaemon()).toBe(0);
  // Every API connection was a tunnel to the name only the proxy resolves.
  expect(proxy.tunnels.length).toBeGreaterThan(0);
  expect(new Set(proxy.tunnels)).toEqual(new Set([`${NAME}:${new URL(apiUrl).port}`]));
});
