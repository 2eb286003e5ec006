// The one rule for GITHUB_* variables (config/env-aliases.ts): GITHUB_API_URL and GITHUB_TOKEN are
// aliases (the TART_FLEET_ name wins), any other GITHUB_<KEY> we have a setting for is refused, and
// an error in an alias's value names the variable the operator actually set.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { problemsOf } from './problems.js';

const dir = mkdtempSync(join(tmpdir(), 'tf-aliases-'));
const path = join(dir, 'pipeline.yml');
writeFileSync(path, readFileSync(new URL('../../pipeline.yml', import.meta.url), 'utf8'));
const load = (env: NodeJS.ProcessEnv) => loadConfig({ path, env, cwd: dir, hostname: 'mac', totalMemBytes: 16 * 1024 ** 3 });

test('GITHUB_API_URL sets github.api_url; TART_FLEET_GITHUB_API_URL wins over it', () => {
  expect(load({ GITHUB_API_URL: 'https://ghes.example/api/v3' }).config.github.api_url).toBe('https://ghes.example/api/v3');
  expect(load({ GITHUB_API_URL: 'https://ghes.example/api/v3', TART_FLEET_GITHUB_API_URL: 'https://api.github.com' }).config.github.api_url).toBe('https://api.github.com');
});

test('a bad value from the alias is reported under the alias', () => {
  expect(problemsOf(() => load({ GITHUB_API_URL: 'ghes.example' }))).toEqual([expect.stringMatching(/^GITHUB_API_URL: /)]);
});

test('GITHUB_RUNNER_GROUP_ID is refused naming TART_FLEET_GITHUB_RUNNER_GROUP_ID; GITHUB_USER (another tool\'s) is left alone', () => {
  expect(problemsOf(() => load({ GITHUB_RUNNER_GROUP_ID: '2', GITHUB_USER: 'someone' }))).toEqual([
    'GITHUB_RUNNER_GROUP_ID: not read by tart-fleet (of the GITHUB_* variables only GITHUB_TOKEN and GITHUB_API_URL are); set TART_FLEET_GITHUB_RUNNER_GROUP_ID instead, or unset it',
  ]);
});
