import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, defaultRunnerName } from '../../src/config/load.js';
import { problemsOf } from './problems.js';
import { ramCeilingMb } from '../../src/config/types.js';

const GiB = 1024 ** 3;
const dir = mkdtempSync(join(tmpdir(), 'tf-config-'));

function write(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

function load(path: string, env: NodeJS.ProcessEnv = {}) {
  return loadConfig({ path, env, cwd: dir, hostname: 'Mac-mini-B.local', totalMemBytes: 16 * GiB });
}


describe('loadConfig', () => {
  test("the repository's example pipeline.yml loads unchanged", () => {
    const example = write('seed.yml', readFileSync(new URL('../../pipeline.yml', import.meta.url), 'utf8'));
    const { config } = load(example);
    expect(config.github).toEqual({
      org: 'your-org', runner_name: 'mac-mini-a', api_url: 'https://api.github.com', runner_group_id: 1, repositories: [],
      max_requests_per_minute: 300,
      app_hook: false,
    });
    // The seed's profiles are the trusted tier: shared read-write cache, NAT, the org's runner group.
    for (const p of Object.values(config.profiles)) {
      expect(p).toMatchObject({ trust: 'trusted', cache: 'rw', cache_dir: join(dir, 'cache'), network: 'nat', runner_group_id: 1 });
    }
    expect(config.host).toMatchObject({ state_dir: join(dir, 'state'), metrics_file: join(dir, 'state', 'tart-fleet.prom'), min_free_disk_gb: 20 });
    expect(config.profiles.developer).toMatchObject({ ram_mb: 8192, cpu: 6, timeout_minutes: 60, os: 'macos', labels: [] });
    expect(config.profiles.coder).toMatchObject({ ram_mb: 4096, cpu: 2, timeout_minutes: 60 }); // a macOS guest's minimum
    expect(config.profiles.marketer).toMatchObject({ ram_mb: 5120, cpu: 4, timeout_minutes: 30 });
    expect(config.host).toMatchObject({ reserved_ram_gb: 4, total_ram_mb: 16384, max_vms: 2, poll_seconds: 15 });
    expect(ramCeilingMb(config.host)).toBe(12288);
    expect(config.vm).toMatchObject({ image: 'workhorse', ssh_user: 'admin', ssh_port: 22, boot_timeout_seconds: 180 });
  });

  test('a broken config names every problem: missing org, negative RAM, unknown key', () => {
    const p = write('broken.yml', 'github:\n  runner_name: a\nprofiles:\n  coder: { ram_mb: -1, cpu: 2, timeout_minutes: 60, colour: red }\n');
    const problems = problemsOf(() => load(p));
    expect(problems).toEqual(expect.arrayContaining([
      'github.org: is required',
      'profiles.coder.ram_mb: must be >= 512',
      'profiles.coder.colour: unknown key',
    ]));
    expect(problems).toHaveLength(3);
  });

  test('environment overrides win over the file and are typed like it', () => {
    const p = write('env.yml', 'github: { org: acme }\nhost: { reserved_ram_gb: 4 }\nprofiles:\n  coder: { ram_mb: 2048, cpu: 2, timeout_minutes: 60 }\n');
    const { config } = load(p, { TART_FLEET_HOST_RESERVED_RAM_GB: '6', TART_FLEET_GITHUB_ORG: 'other', TART_FLEET_HOST_POLL_SECONDS: '2.5', TART_FLEET_GITHUB_REPOSITORIES: 'app, web' });
    expect(ramCeilingMb(config.host)).toBe(16384 - 6144);
    expect(config.github.org).toBe('other');
    expect(config.host.poll_seconds).toBe(2.5);
    expect(config.github.repositories).toEqual(['app', 'web']);
  });

  test('a bad environment override names its variable, and unknown TART_FLEET_ names are caught', () => {
    const p = write('env2.yml', 'github: { org: acme }\nprofiles:\n  coder: { ram_mb: 2048, cpu: 2, timeout_minutes: 60 }\n');
    expect(problemsOf(() => load(p, { TART_FLEET_HOST_MAX_VMS: 'two', TART_FLEET_HOST_MAX_VM: '3', TART_FLEET_VM_SSH_PORT: '0' }))).toEqual([
      'TART_FLEET_HOST_MAX_VM: unknown setting (did you mean TART_FLEET_HOST_MAX_VMS?)',
      'TART_FLEET_HOST_MAX_VMS: must be an integer',
      'TART_FLEET_VM_SSH_PORT: must be >= 1',
    ]);
  });

  test('cross-field checks: a profile above the RAM ceiling, labels that shadow another profile, max_vms < 1', () => {
    const p = write('cross.yml', 'github: { org: acme }\nhost: { reserved_ram_gb: 4, total_ram_mb: 8192 }\nprofiles:\n  developer: { ram_mb: 8192, cpu: 6, timeout_minutes: 60 }\n  coder: { ram_mb: 2048, cpu: 2, timeout_minutes: 60, labels: [developer] }\n');
    expect(problemsOf(() => load(p))).toEqual([
      'profiles.developer.ram_mb: 8192 MB is more than the VM RAM ceiling of 4096 MB (8192 MB total - 4 GB reserved)',
      'profiles.coder.labels: "developer" is another profile\'s name; its jobs could land on coder VMs',
    ]);
    const q = write('maxvms.yml', 'github: { org: acme }\nhost: { max_vms: 0 }\nprofiles:\n  coder: { ram_mb: 2048, cpu: 2, timeout_minutes: 60 }\n');
    expect(problemsOf(() => load(q))).toEqual(['host.max_vms: must be >= 1']);
  });

  test('an untrusted profile defaults to no cache and softnet; its own group and cache dir are kept', () => {
    const p = write('tiers.yml', [
      'github: { org: acme, runner_group_id: 3 }',
      'profiles:',
      '  coder: { ram_mb: 4096, cpu: 4, timeout_minutes: 60 }',
      '  pr: { ram_mb: 4096, cpu: 4, timeout_minutes: 30, trust: untrusted, runner_group_id: 7 }',
      '  pr-cached: { ram_mb: 4096, cpu: 4, timeout_minutes: 30, trust: untrusted, runner_group_id: 7, cache: clone, cache_dir: ./pr-cache }',
      '',
    ].join('\n'));
    const { config, warnings } = load(p);
    expect(config.profiles.coder).toMatchObject({ trust: 'trusted', runner_group_id: 3, cache: 'rw', network: 'nat' });
    expect(config.profiles.pr).toMatchObject({ trust: 'untrusted', runner_group_id: 7, cache: 'none', network: 'softnet' });
    expect(config.profiles['pr-cached']).toMatchObject({ cache: 'clone', cache_dir: join(dir, 'pr-cache') });
    // What the untrusted tier still reaches and shares (untrusted-reach.ts); nothing else.
    expect(warnings.map((w) => w.split(':')[0])).toEqual(['profiles.pr.net_softnet_block', 'profiles.pr.image', 'profiles.pr-cached.net_softnet_block', 'profiles.pr-cached.image']);
  });

  test('tiers must not share a runner group or a cache dir; unwise untrusted settings warn', () => {
    const p = write('tiers-bad.yml', [
      'github: { org: acme }',
      'profiles:',
      '  coder: { ram_mb: 4096, cpu: 4, timeout_minutes: 60 }',
      '  pr: { ram_mb: 4096, cpu: 4, timeout_minutes: 30, trust: untrusted, cache: ro }',
      '',
    ].join('\n'));
    expect(problemsOf(() => load(p))).toEqual([
      'profiles.pr.runner_group_id: untrusted profile pr uses runner group 1, like trusted profile coder; GitHub routes any job of a group to any of its runners, so give the untrusted tier a group of its own',
      `profiles.pr.cache_dir: untrusted profile pr would see the cache dir of trusted profile coder (${join(dir, 'cache')}); set profiles.pr.cache_dir to a directory of its own, or cache: none`,
    ]);
    const q = write('tiers-warn.yml', [
      'github: { org: acme }',
      'profiles:',
      '  coder: { ram_mb: 4096, cpu: 4, timeout_minutes: 60 }',
      '  pr: { ram_mb: 4096, cpu: 4, timeout_minutes: 30, trust: untrusted, runner_group_id: 2, cache: rw, cache_dir: ./pr, network: nat }',
      '',
    ].join('\n'));
    expect(load(q).warnings).toEqual([
      'profiles.pr.cache: rw lets one untrusted job plant files that later untrusted jobs run; ro, clone or none keep jobs apart',
      "profiles.pr.network: nat lets a root job answer for its neighbour VM's address (ARP spoofing); softnet prevents it",
      expect.stringMatching(/^profiles\.pr\.image: untrusted profile pr boots the same golden image as trusted profile coder/),
    ]);
  });

  test('profile keys can be set from TART_FLEET_PROFILES_<NAME>_<KEY>, named in errors', () => {
    const p = write('penv.yml', 'github: { org: acme }\nprofiles:\n  coder: { ram_mb: 4096, cpu: 4, timeout_minutes: 60 }\n  pr-check: { ram_mb: 4096, cpu: 4, timeout_minutes: 30, trust: untrusted, runner_group_id: 2 }\n');
    const { config } = load(p, { TART_FLEET_PROFILES_PR_CHECK_CACHE: 'clone', TART_FLEET_PROFILES_PR_CHECK_CACHE_DIR: '/tmp/pr', TART_FLEET_PROFILES_CODER_RAM_MB: '6144' });
    expect(config.profiles['pr-check']).toMatchObject({ cache: 'clone', cache_dir: '/tmp/pr' });
    expect(config.profiles.coder!.ram_mb).toBe(6144);
    expect(problemsOf(() => load(p, { TART_FLEET_PROFILES_CODER_TRUST: 'maybe', TART_FLEET_PROFILES_MARKETING_CPU: '2' }))).toEqual([
      'TART_FLEET_PROFILES_MARKETING_CPU: unknown setting (profile variables exist only for profiles pipeline.yml names)',
      'TART_FLEET_PROFILES_CODER_TRUST: must be one of "trusted", "untrusted"',
    ]);
  });

  test('a profile name longer than 40 characters is refused (runner names are limited to 64)', () => {
    const p = write('long.yml', `github: { org: acme }\nprofiles:\n  ${'a'.repeat(41)}: { ram_mb: 4096, cpu: 4, timeout_minutes: 60 }\n`);
    expect(problemsOf(() => load(p))).toEqual([
      `profiles.${'a'.repeat(41)}: profile names are lower case words joined by "-" (each word starts with a letter), at most 40 characters (runner names are limited to 64)`,
    ]);
  });

  test('YAML syntax errors and duplicate profiles give file:line:col', () => {
    const p = write('dup.yml', 'github: { org: acme }\nprofiles:\n  coder: { ram_mb: 2048, cpu: 2, timeout_minutes: 60 }\n  coder: { ram_mb: 4096, cpu: 2, timeout_minutes: 60 }\n');
    expect(problemsOf(() => load(p))).toEqual([`${p}:4:3: Map keys must be unique`]);
  });

  test('secrets in the file are refused without echoing their value', () => {
    const p = write('secret.yml', 'github: { org: acme, token: ghp_0123456789abcdefghij0123456789abcdef }\nvm: { ssh_password: hunter22 }\nprofiles:\n  coder: { ram_mb: 2048, cpu: 2, timeout_minutes: 60 }\n');
    const problems = problemsOf(() => load(p));
    expect(problems).toEqual([
      'github.token: secrets are not read from pipeline.yml; set TART_FLEET_GITHUB_TOKEN in the environment instead',
      'vm.ssh_password: secrets are not read from pipeline.yml; set TART_FLEET_SSH_PASSWORD in the environment instead',
    ]);
    expect(problems.join('\n')).not.toMatch(/ghp_|hunter22/);
  });

  test('an api_url with user:password is refused, from the file or the environment, without echoing it', () => {
    const p = write('urlcred.yml', 'github: { org: acme, api_url: "https://proxyuser:S3cretPass@ghe.example.com/api/v3" }\nprofiles:\n  coder: { ram_mb: 2048, cpu: 2, timeout_minutes: 60 }\n');
    const problems = problemsOf(() => load(p));
    expect(problems).toEqual([expect.stringMatching(/^github\.api_url: .*user name or password/)]);
    expect(problems.join('\n')).not.toMatch(/proxyuser|S3cretPass/);

    const ok = write('urlok.yml', 'github: { org: acme }\nprofiles:\n  coder: { ram_mb: 2048, cpu: 2, timeout_minutes: 60 }\n');
    const fromEnv = problemsOf(() => load(ok, { TART_FLEET_GITHUB_API_URL: 'http://onlyuser@127.0.0.1:8080' }));
    expect(fromEnv).toEqual([expect.stringMatching(/^TART_FLEET_GITHUB_API_URL: .*user name or password/)]);
    expect(fromEnv.join('\n')).not.toContain('onlyuser');
    // A plain URL with a port and a path is fine.
    expect(load(ok, { TART_FLEET_GITHUB_API_URL: 'https://ghe.example.com:8443/api/v3' }).config.github.api_url).toBe('https://ghe.example.com:8443/api/v3');
  });

  test('the path comes from --config, else TART_FLEET_CONFIG, else ./pipeline.yml', () => {
    write('pipeline.yml', 'github: { org: from-cwd }\nprofiles:\n  coder: { ram_mb: 2048, cpu: 2, timeout_minutes: 60 }\n');
    const other = write('other.yml', 'github: { org: from-env }\nprofiles:\n  coder: { ram_mb: 2048, cpu: 2, timeout_minutes: 60 }\n');
    const base = { cwd: dir, hostname: 'h', totalMemBytes: 16 * GiB };
    expect(loadConfig({ ...base, env: {} }).config.github.org).toBe('from-cwd');
    expect(loadConfig({ ...base, env: { TART_FLEET_CONFIG: other } }).config.github.org).toBe('from-env');
    expect(problemsOf(() => loadConfig({ ...base, path: 'nope.yml', env: {} }))[0]).toMatch(/nope\.yml: no such file/);
  });

  test('runner_name defaults to the short host name, made valid', () => {
    expect(defaultRunnerName('Mac-mini-B.local')).toBe('mac-mini-b');
    expect(defaultRunnerName("Jane's MacBook Pro")).toBe('jane-s-macbook-pro');
  });
});

test('the event feed: github.hook_id or github.app_hook, not both (issue 29); both can come from the environment', () => {
  const withHook = write('hook.yml', 'github:\n  org: acme\n  hook_id: 42\nprofiles:\n  coder: { ram_mb: 2048, cpu: 2, timeout_minutes: 60, os: linux }\n');
  expect(load(withHook).config.github).toMatchObject({ hook_id: 42, app_hook: false });
  expect(problemsOf(() => load(withHook, { TART_FLEET_GITHUB_APP_HOOK: 'true' })).join('\n')).toMatch(/github\.hook_id .*or github\.app_hook .*not both/);
  const plain = write('nohook.yml', 'github:\n  org: acme\nprofiles:\n  coder: { ram_mb: 2048, cpu: 2, timeout_minutes: 60, os: linux }\n');
  expect(load(plain, { TART_FLEET_GITHUB_HOOK_ID: '7' }).config.github.hook_id).toBe(7);
  expect(load(plain).config.github.hook_id).toBeUndefined();
});
