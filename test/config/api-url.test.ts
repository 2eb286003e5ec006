// github.api_url over plain http sends the org's runner-admin token in clear text on every request
// (audit turn4-security N3: `validate` accepted http://github.example.com/api/v3 with 0 FAIL). It is a
// config error, except on loopback (the simulated world, a local TLS-terminating proxy).
import { validateConfig } from '../../src/config/load.js';
import { problemsOf } from './problems.js';

const load = (api_url: string, env: NodeJS.ProcessEnv = {}) =>
  validateConfig({ github: { org: 'acme', runner_name: 'm', api_url }, host: { total_ram_mb: 16384 }, profiles: { coder: { ram_mb: 2048, cpu: 2, timeout_minutes: 60 } } }, 'test.yml', { env, hostname: 'm', totalMemBytes: 0 });

test.each(['http://github.example.com/api/v3', 'http://10.0.0.5:8080', 'http://127.example.com'])('%s is refused, naming the field and the fix', (url) => {
  expect(problemsOf(() => load(url))).toEqual([expect.stringMatching(/^github\.api_url: is plain http:\/\/ to .*; .*use https:\/\//)]);
});

test('the environment variable that set it is named', () => {
  expect(problemsOf(() => load('https://api.github.com', { TART_FLEET_GITHUB_API_URL: 'http://ghe.internal/api/v3' }))).toEqual([expect.stringMatching(/^TART_FLEET_GITHUB_API_URL: is plain http:\/\//)]);
});

test.each(['http://127.0.0.1:8080', 'http://localhost:3000/api/v3', 'http://[::1]:9000', 'https://ghe.example.com/api/v3'])('%s is accepted', (url) => {
  expect(load(url).config.github.api_url).toBe(url);
});
