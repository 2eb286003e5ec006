// The command line as a user runs it: the real bin, in a child process.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { jest } from '@jest/globals';
import type { Command } from 'commander';
import { buildProgram, main } from '../../src/main.js';
import { PACKAGE_ROOT } from '../../src/config/package.js';
import { SimWorld } from '../../src/sim/world.js';
import { FakeGitHub } from '../../src/sim/github/server.js';
import { runBin, simWorldForAll, withoutOurEnv } from './cli-helpers.js';

jest.setTimeout(60_000);
const dir = mkdtempSync(join(tmpdir(), 'tf-cli-'));

const cli = (args: string[], env: NodeJS.ProcessEnv = {}) => runBin(args, { env: { ...withoutOurEnv(), ...env }, cwd: dir });

test('--help lists every command, and each command has its own --help', async () => {
  const { code, stdout } = await cli(['--help']);
  expect(code).toBe(0);
  for (const c of ['run', 'ls', 'validate', 'demo', 'launchd', 'init', 'selftest', 'logs']) expect(stdout).toMatch(new RegExp(`^  ${c}\\b`, 'm'));
  for (const c of ['run', 'ls', 'validate', 'demo', 'launchd']) expect((await cli([c, '--help'])).stdout).toContain(`Usage: tart-fleet ${c}`);
});

test("every command's --help exits 0 and names each of its options (walked from the commander program)", async () => {
  const program = buildProgram({ env: {}, cwd: dir, stdout: new PassThrough(), stderr: new PassThrough(), hostname: 'h', totalMemBytes: 1 }, () => undefined);
  const paths: { path: string[]; options: string[] }[] = [];
  const walk = (cmd: Command, path: string[]) => {
    for (const sub of cmd.commands) {
      const p = [...path, sub.name()];
      paths.push({ path: p, options: sub.options.map((o) => o.long ?? o.short ?? o.flags) });
      walk(sub, p);
    }
  };
  walk(program, []);
  expect(paths.map((p) => p.path.join(' '))).toEqual(expect.arrayContaining(['run', 'ls', 'validate', 'init', 'selftest', 'logs', 'launchd', 'teardown', 'cache', 'cache prune', 'disk', 'demo']));
  for (const { path, options } of paths) {
    let out = '';
    const stdout = new PassThrough();
    stdout.on('data', (d) => (out += String(d)));
    const code = await main([...path, '--help'], { env: {}, cwd: dir, stdout, stderr: new PassThrough(), hostname: 'h', totalMemBytes: 1 });
    expect({ path: path.join(' '), code }).toEqual({ path: path.join(' '), code: 0 });
    expect(out).toContain(`Usage: tart-fleet ${path.join(' ')}`);
    for (const o of options) expect({ path: path.join(' '), option: o, shown: out.includes(o) }).toEqual({ path: path.join(' '), option: o, shown: true });
  }
});

test('validate loads the example pipeline.yml', async () => {
  const { code, stdout } = await cli(['validate', '--config-only', '--config', join(PACKAGE_ROOT, 'pipeline.yml')], { TART_FLEET_HOST_TOTAL_RAM_MB: '16384' });
  expect(code).toBe(0);
  expect(stdout).toContain('ok   ram ceiling: 12288 MB for VMs');
});

test('a broken config exits 2 naming every field, with no stack trace', async () => {
  const bad = join(dir, 'bad.yml');
  writeFileSync(bad, 'github:\n  runner_name: a\nprofiles:\n  coder: { ram_mb: -1, cpu: 2, timeout_minutes: 60 }\nsurprise: true\n');
  const { code, stderr } = await cli(['validate', '--config', bad]);
  expect(code).toBe(2);
  expect(stderr.trim().split('\n').sort()).toEqual(['github.org: is required', 'profiles.coder.ram_mb: must be >= 512', 'surprise: unknown key']);
});

test('unknown commands and bad options are usage errors (exit 2)', async () => {
  expect((await cli(['frobnicate'])).code).toBe(2);
  expect((await cli(['demo', '--jobs', 'many'])).code).toBe(2);
});

test('TART_FLEET_HOST_RESERVED_RAM_GB changes the ceiling ls --json reports, even with no tart and no GitHub', async () => {
  const env = { TART_FLEET_HOST_TOTAL_RAM_MB: '16384', TART_FLEET_TART_BIN: '/nonexistent/tart' };
  const base = JSON.parse((await cli(['ls', '--live', '--json', '--config', join(PACKAGE_ROOT, 'pipeline.yml')], env)).stdout);
  const six = JSON.parse((await cli(['ls', '--live', '--json', '--config', join(PACKAGE_ROOT, 'pipeline.yml')], { ...env, TART_FLEET_HOST_RESERVED_RAM_GB: '6' })).stdout);
  expect(base.ledger.ceiling_mb).toBe(12288);
  expect(six.ledger.ceiling_mb).toBe(10240);
  expect(six.ledger.used_mb).toBeNull();
  expect(six.problems.join('\n')).toMatch(/tart could not be read/);
});

describe('against the simulated world', () => {
  let world: SimWorld;
  simWorldForAll({ speed: 40 }, (w) => (world = w));
  const inWorld = (args: string[], extra: Record<string, string> = {}) => cli([...args, '--config', world.configPath], world.daemonEnv(extra));

  test('validate passes every check it can make on Linux', async () => {
    const { code, stdout } = await inWorld(['validate']);
    expect(stdout).toMatch(/^ok {3}tart: version 2\.32\.1/m);
    expect(stdout).toMatch(/^ok {3}golden image: workhorse exists/m);
    expect(stdout).toMatch(/^ok {3}profile coder: 2 CPU \/ 4096 MB fits workhorse \(macos\)$/m);
    expect(stdout).toMatch(/^ok {3}github runners:/m);
    expect(stdout).toMatch(/^ok {3}github token: classic PAT with admin:org and repo \(scopes: admin:org, repo\)$/m);
    expect(stdout).toMatch(/^ok {3}runner group: "Default" \(id 1\): visibility all, the org's default group$/m);
    // Refusing public repositories is GitHub's default and the safe one: no warning (#16).
    expect(stdout).not.toMatch(/does not allow public repositories/);
    expect(stdout).toMatch(/^ok {3}public repositories: org sim-org has no public repositories/m);
    expect(stdout).toMatch(/^ok {3}runner names: /m);
    expect(stdout).toMatch(/^ok {3}runner version: the image pins 2\.336\.0 .*GitHub's latest is 2\.336\.0$/m);
    expect(stdout).toMatch(/^ok {3}guest ssh:/m);
    expect(stdout).not.toMatch(/^FAIL/m);
    expect(code).toBe(0);
  });

  test('validate fails on a missing golden image and missing credentials, naming each', async () => {
    const { code, stdout } = await inWorld(['validate'], { TART_FLEET_VM_IMAGE: 'no-such-image', TART_FLEET_SSH_PASSWORD: '' });
    expect(code).toBe(1);
    expect(stdout).toMatch(/^FAIL golden image: no-such-image not found/m);
    expect(stdout).toMatch(/^FAIL guest ssh: no SSH credentials/m);
  });

  test('run --dry-run prints the plan and changes nothing; run --once carries it out', async () => {
    const id = world.queue('coder', { durationS: 6000 }); // 5 real minutes: outlives a loaded machine's slow CLI runs
    const dry = await inWorld(['run', '--dry-run']);
    expect(dry.code).toBe(0);
    const plan = JSON.parse(dry.stdout);
    expect(plan.actions).toEqual([expect.objectContaining({ kind: 'create', job_id: id, vm: `tf-sim-mac-coder-${id}` })]);
    expect(world.tartEvents()).toEqual([]);
    expect(world.github.runners()).toEqual([]);

    const once = await inWorld(['run', '--once']);
    expect(once.code).toBe(0);
    expect(world.github.job(id).status).toBe('in_progress');
    const ls = JSON.parse((await inWorld(['ls', '--live', '--json'])).stdout);
    expect(ls.vms).toEqual([expect.objectContaining({ name: `tf-sim-mac-coder-${id}`, profile: 'coder', state: 'running', job_id: id, repo: 'sim-org/app', ram_mb: 4096, cpu: 2 })]);
    expect(ls.vms[0].ip).toMatch(/^127\./);
    expect(ls.ledger).toEqual(expect.objectContaining({ used_mb: 4096, ceiling_mb: 12288, vms: 1, max_vms: 2 })); // the shipped coder: a macOS guest, one of two slots
  });

  describe('validate: the token may create runners, and the runner group takes the jobs', () => {
    const JIT = 'POST /orgs/{org}/actions/runners/generate-jitconfig';
    /** Every validate run here: it creates no runner, and the token (and App key) never appear in what it prints. */
    const validate = async (extra: Record<string, string>, secrets: string[] = []) => {
      const claims = world.github.requestCount(JIT);
      const out = await inWorld(['validate'], extra);
      expect(world.github.requestCount(JIT)).toBe(claims);
      for (const secret of [world.token, ...secrets]) {
        expect(out.stdout).not.toContain(secret);
        expect(out.stderr).not.toContain(secret);
      }
      return out;
    };

    test('a runner group that does not exist fails, naming it and how to find the right one', async () => {
      const { code, stdout } = await validate({ TART_FLEET_GITHUB_RUNNER_GROUP_ID: '42' });
      expect(stdout).toMatch(/^FAIL runner group: runner group 42 not found in org sim-org; list them with GET \/orgs\/sim-org\/actions\/runner-groups .*github\.runner_group_id/m);
      expect(code).toBe(1);
    });

    test('a group limited to selected repositories, or to private ones, warns', async () => {
      // (Allowing public repositories on a trusted profile's group is a FAIL of its own, even with none
      // in the org yet: test/adapters/github-fleet.test.ts.)
      world.github.addRunnerGroup({ id: 7, name: 'macs', visibility: 'selected', allowsPublicRepositories: false, selectedRepositories: ['app'] });
      const selected = await validate({ TART_FLEET_GITHUB_RUNNER_GROUP_ID: '7' });
      expect(selected.stdout).toMatch(/^ok {3}runner group: "macs" \(id 7\): visibility selected$/m);
      expect(selected.stdout).toMatch(/^warn runner group: "macs" \(id 7\) has visibility selected: only the repositories selected for it can use these runners/m);
      expect(selected.stdout).not.toMatch(/does not allow public repositories/);
      expect(selected.code).toBe(0);

      world.github.addRunnerGroup({ id: 8, name: 'private-only', visibility: 'private' });
      const priv = await validate({ TART_FLEET_GITHUB_RUNNER_GROUP_ID: '8' });
      // Refusing public repositories is not a problem (#16); only the org's public repositories are judged.
      expect(priv.stdout).not.toMatch(/does not allow public repositories/);
      expect(priv.stdout).not.toMatch(/visibility selected:/);
      expect(priv.code).toBe(0);
    });

    test('a trusted profile whose group admits the org\'s public repositories fails (#16)', async () => {
      world.github.addRepo('site', { private: false });
      world.github.addRunnerGroup({ id: 9, name: 'open', allowsPublicRepositories: true });
      const open = await validate({ TART_FLEET_GITHUB_RUNNER_GROUP_ID: '9' });
      expect(open.stdout).toMatch(/^ok {3}public repositories: org sim-org has 1 public repositories \(sim-org\/site\); "open" \(id 9\) admits all of them/m);
      expect(open.stdout).toMatch(/^FAIL public repositories: trusted profile coder uses runner group "open" \(id 9\), which allows public repositories/m);
      expect(open.code).toBe(1);
      // The same org with the Default group (refusing them): fine.
      const safe = await validate({});
      expect(safe.stdout).toMatch(/^ok {3}public repositories: org sim-org has 1 public repositories \(sim-org\/site\); none of the profiles' runner groups admits them$/m);
      expect(safe.stdout).not.toMatch(/^FAIL/m);
    });

    test('classic PAT: without admin:org it fails, without repo it warns', async () => {
      world.github.addToken('ghp_cli_repo_only_0123456789abcdefghijk', { kind: 'classic', scopes: ['repo'] });
      const noAdmin = await validate({ TART_FLEET_GITHUB_TOKEN: 'ghp_cli_repo_only_0123456789abcdefghijk' }, ['ghp_cli_repo_only_0123456789abcdefghijk']);
      expect(noAdmin.stdout).toMatch(/^FAIL github token: classic PAT lacks the admin:org scope \(has: repo\), so tart-fleet cannot create JIT runners; .*Personal access tokens \(classic\)/m);
      expect(noAdmin.code).toBe(1);

      world.github.addToken('ghp_cli_admin_only_0123456789abcdefghij', { kind: 'classic', scopes: ['admin:org'] });
      const noRepo = await validate({ TART_FLEET_GITHUB_TOKEN: 'ghp_cli_admin_only_0123456789abcdefghij' }, ['ghp_cli_admin_only_0123456789abcdefghij']);
      expect(noRepo.stdout).toMatch(/^warn github token: classic PAT lacks the repo scope \(has: admin:org\): jobs of private repositories/m);
      expect(noRepo.stdout).not.toMatch(/^FAIL/m);
      expect(noRepo.code).toBe(0);
    });

    test('fine-grained PAT: warns that write cannot be verified without creating a runner', async () => {
      world.github.addToken('github_pat_cli_0123456789abcdefghijklmnop', { kind: 'fine-grained' });
      const { code, stdout } = await validate({ TART_FLEET_GITHUB_TOKEN: 'github_pat_cli_0123456789abcdefghijklmnop' }, ['github_pat_cli_0123456789abcdefghijklmnop']);
      expect(stdout).toMatch(/^warn github token: .*fine-grained PAT.*cannot verify write permission without creating a runner; the token needs Organization → Self-hosted runners: Read and write/m);
      expect(code).toBe(0);
    });

    test('GitHub App: passes with Self-hosted runners write, fails naming the permission without it', async () => {
      const { privateKey, publicKey } = generateKeyPairSync('rsa', {
        modulusLength: 2048,
        privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
        publicKeyEncoding: { type: 'spki', format: 'pem' },
      });
      const appHub = new FakeGitHub({ org: 'sim-org', app: { appId: 31, installationId: 41, publicKey } });
      const appUrl = await appHub.start();
      try {
        const env = {
          TART_FLEET_GITHUB_API_URL: appUrl,
          TART_FLEET_GITHUB_TOKEN: '',
          TART_FLEET_GITHUB_APP_ID: '31',
          TART_FLEET_GITHUB_APP_INSTALLATION_ID: '41',
          TART_FLEET_GITHUB_APP_PRIVATE_KEY: privateKey,
        };
        const ok = await validate(env, [privateKey, 'BEGIN RSA PRIVATE KEY']);
        expect(ok.stdout).toMatch(/^ok {3}github token: GitHub App installation token with organization_self_hosted_runners: write, actions: read \(installed on all repositories\)$/m);
        expect(ok.stdout).not.toMatch(/^FAIL/m);
        expect(ok.code).toBe(0);

        appHub.setAppPermissions({ organization_self_hosted_runners: 'read', actions: 'read', metadata: 'read' });
        const readOnly = await validate(env, [privateKey, 'BEGIN RSA PRIVATE KEY']);
        // Reading runners still works; creating them would not.
        expect(readOnly.stdout).toMatch(/^ok {3}github runners:/m);
        expect(readOnly.stdout).toMatch(/^FAIL github token: the GitHub App installation lacks organization_self_hosted_runners: write \(has read\), so tart-fleet cannot create or delete JIT runners; in the App's settings → Permissions & events set Organization permissions → Self-hosted runners: Read and write/m);
        expect(readOnly.code).toBe(1);
        for (const issued of appHub.installationTokens()) expect(readOnly.stdout + readOnly.stderr + ok.stdout + ok.stderr).not.toContain(issued.token);
        expect(appHub.runners()).toEqual([]);
      } finally {
        await appHub.stop();
      }
    });
  });

  test('secrets may come from files (TART_FLEET_GITHUB_TOKEN_FILE), as the LaunchDaemon passes them', async () => {
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, `${world.token}\n`, { mode: 0o600 });
    const { code, stdout } = await inWorld(['validate'], { TART_FLEET_GITHUB_TOKEN: '', TART_FLEET_GITHUB_TOKEN_FILE: tokenFile });
    expect(stdout).toMatch(/^ok {3}github runners:/m);
    expect(code).toBe(0);
  });
});
