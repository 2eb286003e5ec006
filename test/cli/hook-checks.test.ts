// `validate`'s event-feed lines and `tart-fleet hook create`'s adapter call, real adapter against the
// fake GitHub's webhooks: exists, active, subscribed to workflow_job, deliveries readable (and which
// permission is missing), the App's hook behind its JWT; a webhook created on request goes nowhere.
import { generateKeyPairSync } from 'node:crypto';
import { harness, TOKEN, type Harness } from '../adapters/github-helpers.js';
import { githubHookChecks } from '../../src/cli/github-hook-checks.js';
import { DEFAULT_HOOK_URL } from '../../src/cli/hook.js';
import type { Config } from '../../src/config/types.js';

let h: Harness;
afterEach(async () => {
  await h?.fake.stop();
});

const HOOK_PAT = { kind: 'classic' as const, scopes: ['admin:org', 'repo', 'admin:org_hook'] };
const config = (github: Partial<Config['github']>) => ({ github: { org: 'acme', app_hook: false, ...github } }) as unknown as Config;
const lines = async (adapter: Harness['adapter'], github: Partial<Config['github']>) =>
  (await githubHookChecks(adapter, config(github))).map((r) => `${r.status}: ${r.detail}${r.fix ? ` | ${r.fix}` : ''}`);

test('an org webhook: ok when active, subscribed and readable; each fault named with its fix', async () => {
  h = await harness({ pat: HOOK_PAT });
  expect(await lines(h.adapter, {})).toEqual([expect.stringMatching(/^ok: none configured/)]);
  const good = h.fake.addOrgHook();
  expect(await lines(h.adapter, { hook_id: good.id })).toEqual([expect.stringMatching(/^ok: org webhook \d+ \(https:\/\/tart-fleet\.invalid\/\): active, subscribed to workflow_job, deliveries readable/)]);
  const off = h.fake.addOrgHook({ active: false, events: ['push'] });
  const bad = await lines(h.adapter, { hook_id: off.id });
  expect(bad).toEqual([expect.stringMatching(/^fail: .* is inactive/), expect.stringMatching(/^fail: .* not subscribed to workflow_job \(events: push\)/)]);
  expect(await lines(h.adapter, { hook_id: 999 })).toEqual([expect.stringMatching(/^fail: org webhook 999 not found .*tart-fleet hook create/)]);
});

test('a token without admin:org_hook: the line names the scope and the fine-grained permission', async () => {
  h = await harness();
  const hook = h.fake.addOrgHook();
  expect(await lines(h.adapter, { hook_id: hook.id })).toEqual([expect.stringMatching(/^fail: org webhook \d+: not readable \(403.*\| .*admin:org_hook.*Webhooks: read/)]);
});

test("the App's own webhook: read with the App's JWT; with a PAT it cannot be", async () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
  h = await harness({ app: { appId: 5, installationId: 6, publicKey } }, { auth: { kind: 'app', appId: 5, installationId: 6, privateKey } });
  expect(await lines(h.adapter, { app_hook: true })).toEqual([expect.stringMatching(/^fail: the GitHub App's webhook not found/)]);
  h.fake.setAppHook({});
  expect(await lines(h.adapter, { app_hook: true })).toEqual([expect.stringMatching(/^ok: the GitHub App's webhook \(https:\/\/tart-fleet\.invalid\/\): subscribed to workflow_job, deliveries readable/)]);
  const pat = h.make({ auth: { kind: 'token', token: TOKEN } });
  expect(await lines(pat, { app_hook: true })).toEqual([expect.stringMatching(/^fail: .*needs GitHub App auth/)]);
});

test('hook create: workflow_job only, active, the .invalid URL by default; GitHub refuses localhost', async () => {
  h = await harness({ pat: HOOK_PAT });
  const created = await h.adapter.createOrgHook(DEFAULT_HOOK_URL);
  expect(created).toMatchObject({ url: DEFAULT_HOOK_URL, events: ['workflow_job'], active: true });
  expect(await lines(h.adapter, { hook_id: created.id })).toEqual([expect.stringMatching(/^ok: /)]);
  await expect(h.adapter.createOrgHook('https://localhost:8080/hook')).rejects.toMatchObject({ status: 422 });
});
