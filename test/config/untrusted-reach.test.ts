// What the untrusted tier reaches (src/config/untrusted-reach.ts). The audit (turn4-security N6) gave
// an untrusted profile `net_softnet_allow: ["0.0.0.0/0", "not-a-cidr"]` and `validate` said 0 FAIL;
// softnet's help says --allow=0.0.0.0/0 "additionally disables bridge isolation" (cirruslabs/softnet
// src/main.rs) and its Target parser takes IPv4 CIDRs and @host only (lib/proxy/mod.rs).
import { validateConfig } from '../../src/config/load.js';
import { parseSoftnetTarget, wideReason } from '../../src/config/untrusted-reach.js';
import { problemsOf } from './problems.js';

function load(pr: Record<string, unknown>, opts: { vm?: Record<string, unknown>; env?: NodeJS.ProcessEnv } = {}) {
  return validateConfig({
    github: { org: 'acme', runner_name: 'm' },
    host: { total_ram_mb: 16384 },
    vm: opts.vm ?? {},
    profiles: {
      coder: { ram_mb: 2048, cpu: 2, timeout_minutes: 60 },
      pr: { ram_mb: 2048, cpu: 2, timeout_minutes: 30, trust: 'untrusted', runner_group_id: 2, ...pr },
    },
  }, 'test.yml', { env: opts.env ?? {}, hostname: 'm', totalMemBytes: 0 });
}

describe('softnet list values are parsed as softnet parses them', () => {
  test('a bad value is a config error naming the field and the index', () => {
    expect(problemsOf(() => load({ net_softnet_allow: ['203.0.113.0/24', 'not-a-cidr', '10.0.0.0/33'] }))).toEqual([
      'profiles.pr.net_softnet_allow[1]: "not-a-cidr" is not an IPv4 CIDR (like 203.0.113.0/24 or 203.0.113.7) or @host, which is all softnet accepts',
      'profiles.pr.net_softnet_allow[2]: "10.0.0.0/33" is not an IPv4 CIDR (like 203.0.113.0/24 or 203.0.113.7) or @host, which is all softnet accepts',
    ]);
    expect(problemsOf(() => load({}, { vm: { net_softnet_block: ['::/0'] } }))).toEqual([expect.stringMatching(/^vm\.net_softnet_block\[0\]: "::\/0" is IPv6; softnet filters IPv4 only/)]);
  });

  test('CIDRs, single addresses and @host parse', () => {
    expect(parseSoftnetTarget('203.0.113.9/24')).toEqual({ kind: 'cidr', base: 0xcb007100, prefix: 24, text: '203.0.113.9/24' });
    expect(parseSoftnetTarget('1.1.1.1')).toMatchObject({ prefix: 32 });
    expect(parseSoftnetTarget('@host')).toEqual({ kind: 'host' });
    expect(parseSoftnetTarget('256.0.0.0/8')).toBeUndefined();
  });
});

describe('an untrusted allow list that undoes isolation is refused unless stated on purpose', () => {
  test.each([
    ['0.0.0.0/0', /0\.0\.0\.0\/0 allows every address and disables softnet's bridge isolation/],
    ['192.168.64.0/24', /reaches the private range 192\.168\.0\.0\/16 .*vmnet/],
    ['192.168.64.1', /reaches the private range 192\.168\.0\.0\/16/],
    ['10.1.2.0/24', /reaches the private LAN range 10\.0\.0\.0\/8/],
    ['172.20.0.0/16', /172\.16\.0\.0\/12/],
    ['169.254.169.254', /link-local .*cloud metadata/],
    ['0.0.0.0/1', /10\.0\.0\.0\/8/],
    ['@host', /@host lets guests reach the Mac itself/],
  ])('%s', (cidr, why) => {
    expect(problemsOf(() => load({ net_softnet_allow: [cidr] }))).toEqual([
      expect.stringMatching(new RegExp(`^profiles\\.pr\\.net_softnet_allow: .*${why.source}.*set profiles\\.pr\\.net_softnet_allow_wide: true$`)),
    ]);
    const { warnings } = load({ net_softnet_allow: [cidr], net_softnet_allow_wide: true });
    expect(warnings).toContainEqual(expect.stringMatching(/^profiles\.pr\.net_softnet_allow_wide: true: untrusted profile pr's allow list is not checked/));
  });

  test('global addresses pass; a trusted profile may allow its LAN; the flag is settable from the environment', () => {
    expect(() => load({ net_softnet_allow: ['203.0.113.0/24', '8.8.8.8'] })).not.toThrow();
    expect(() => validateConfig({ github: { org: 'a', runner_name: 'm' }, host: { total_ram_mb: 16384 }, profiles: { coder: { ram_mb: 2048, cpu: 2, timeout_minutes: 60, network: 'softnet', net_softnet_allow: ['192.168.1.0/24'] } } }, 't', { env: {}, hostname: 'm', totalMemBytes: 0 })).not.toThrow();
    expect(load({ net_softnet_allow: ['0.0.0.0/0'] }, { env: { TART_FLEET_PROFILES_PR_NET_SOFTNET_ALLOW_WIDE: 'true' } }).config.profiles.pr!.net_softnet_allow_wide).toBe(true);
  });
});

describe('the Mac and shared credentials', () => {
  test('blocking @host is an error with ssh delivery (no VM could be reached), fine with exec', () => {
    expect(problemsOf(() => load({ net_softnet_block: ['@host'] }))).toEqual([expect.stringMatching(/^profiles\.pr\.net_softnet_block: blocks @host, but vm\.runner_delivery is ssh/)]);
    const { warnings } = load({ net_softnet_block: ['@host'], image: 'pr-image' }, { vm: { runner_delivery: 'exec' } });
    expect(warnings).toEqual([]);
  });

  test('an untrusted tier that can reach the Mac, or shares the trusted image and password, is warned about', () => {
    const { warnings } = load({}, { env: { TART_FLEET_SSH_PASSWORD_FILE: '/etc/tf/pw' } });
    expect(warnings).toEqual([
      expect.stringMatching(/^profiles\.pr\.net_softnet_block: untrusted profile pr's guests can reach the Mac itself .*net_softnet_block: \["@host"\]/),
      expect.stringMatching(/^profiles\.pr\.image: untrusted profile pr boots the same golden image as trusted profile coder \(workhorse\): the same admin account, SSH host key and SSH password .*image of its own and vm\.runner_delivery: exec/),
    ]);
  });

  test('wideReason names nothing for global addresses', () => {
    expect(wideReason(parseSoftnetTarget('140.82.112.0/20')!)).toBeUndefined();
  });
});

test('a label on both tiers is refused: one runs-on would match runners of each', () => {
  const both = () => validateConfig({
    github: { org: 'acme', runner_name: 'm' },
    host: { total_ram_mb: 16384 },
    profiles: {
      coder: { ram_mb: 2048, cpu: 2, timeout_minutes: 60, labels: ['macos-15', 'xcode'] },
      pr: { ram_mb: 2048, cpu: 2, timeout_minutes: 30, trust: 'untrusted', runner_group_id: 2, labels: ['MacOS-15', 'pr-only'] },
    },
  }, 'test.yml', { env: {}, hostname: 'm', totalMemBytes: 0 });
  expect(problemsOf(both)).toEqual(['profiles.pr.labels: "MacOS-15" is also a label of trusted profile coder: a job with runs-on [self-hosted, MacOS-15] matches runners of both tiers; give each tier labels of its own']);
});
