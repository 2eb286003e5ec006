// host.max_vms_per_repo in both forms (a number, or a map by trust tier) and host.cache_max_gb:
// what loads, what each mistake says, and the environment override of the number form.
import { validateConfig } from '../../src/config/load.js';
import { problemsOf } from './problems.js';
import { repoCapFor } from '../../src/config/types.js';

const profiles = {
  coder: { ram_mb: 2048, cpu: 2, timeout_minutes: 60 },
  pr: { ram_mb: 2048, cpu: 2, timeout_minutes: 30, trust: 'untrusted', runner_group_id: 2 },
};

function load(host: Record<string, unknown>, env: NodeJS.ProcessEnv = {}) {
  return validateConfig({ github: { org: 'acme', runner_name: 'mac-a' }, host: { total_ram_mb: 16384, ...host }, profiles }, 'test.yml', { env, hostname: 'h', totalMemBytes: 0 });
}


describe('host.max_vms_per_repo', () => {
  test('a number caps every tier together', () => {
    const { host } = load({ max_vms_per_repo: 2 }).config;
    expect(repoCapFor(host, 'trusted')).toEqual({ cap: 2, tier: undefined });
    expect(repoCapFor(host, 'untrusted')).toEqual({ cap: 2, tier: undefined });
  });

  test('a map caps each trust tier on its own; a tier left out has no cap', () => {
    const { host } = load({ max_vms_per_repo: { untrusted: 1 } }).config;
    expect(repoCapFor(host, 'untrusted')).toEqual({ cap: 1, tier: 'untrusted' });
    expect(repoCapFor(host, 'trusted')).toBeUndefined();
    expect(repoCapFor(load({}).config.host, 'trusted')).toBeUndefined();
  });

  test('mistakes name the field', () => {
    expect(problemsOf(() => load({ max_vms_per_repo: { trusted: 0, untrustd: 1 } }))).toEqual([
      'host.max_vms_per_repo.untrustd: unknown key',
      'host.max_vms_per_repo.trusted: must be >= 1',
    ]);
    expect(problemsOf(() => load({ max_vms_per_repo: {} }))).toEqual(['host.max_vms_per_repo: must not be empty']);
    expect(problemsOf(() => load({ max_vms_per_repo: 'two' }))).toEqual(['host.max_vms_per_repo: must be an integer, or a map by trust tier like {trusted: 4, untrusted: 1}']);
    expect(problemsOf(() => load({ max_vms_per_repo: 0 }))).toEqual(['host.max_vms_per_repo: must be >= 1']);
  });

  test('TART_FLEET_HOST_MAX_VMS_PER_REPO sets the number form, and a bad value names the variable', () => {
    const { host } = load({ max_vms_per_repo: { trusted: 4 } }, { TART_FLEET_HOST_MAX_VMS_PER_REPO: '3' }).config;
    expect(host.max_vms_per_repo).toBe(3);
    expect(problemsOf(() => load({}, { TART_FLEET_HOST_MAX_VMS_PER_REPO: 'trusted=4' }))).toEqual(['TART_FLEET_HOST_MAX_VMS_PER_REPO: must be an integer']);
    expect(problemsOf(() => load({}, { TART_FLEET_HOST_MAX_VMS_PER_REPO: '0' }))).toEqual(['TART_FLEET_HOST_MAX_VMS_PER_REPO: must be >= 1']);
  });
});
