import { parseRunnerName, parseVmName, runnerName, vmName } from '../../src/core/names.js';
import { profileForLabels } from '../../src/core/match.js';
import { seedConfig } from './world.js';

describe('names carry identity', () => {
  test('VM names round-trip, with and without the attempt suffix, even for dashed profiles and hosts', () => {
    for (const claim of [{ profile: 'coder', jobId: 4242, attempt: 1 }, { profile: 'claude-agent', jobId: 7, attempt: 3 }]) {
      expect(parseVmName('mac-mini-a', vmName('mac-mini-a', claim))).toEqual(claim);
      expect(parseRunnerName(runnerName(claim))).toEqual(claim);
    }
    expect(vmName('mac-mini-a', { profile: 'coder', jobId: 4242, attempt: 1 })).toBe('tf-mac-mini-a-coder-4242');
    expect(runnerName({ profile: 'coder', jobId: 4242, attempt: 2 })).toBe('tf-coder-4242-2');
  });

  test("names that are not ours never parse: other hosts, foreign VMs, golden images, malformed", () => {
    for (const name of ['workhorse', 'tf-mac-mini-b-coder-1', 'tf-mac-mini-a-coder', 'tf-mac-mini-a-42', 'tf-mac-mini-a-coder-1-1', 'tf-mac-mini-a-Coder-1', 'my-vm']) {
      expect(parseVmName('mac-mini-a', name)).toBeUndefined();
    }
    expect(parseRunnerName('mac-runner-1')).toBeUndefined();
  });
});

describe('label matching', () => {
  const { profiles } = seedConfig();
  test('runs-on [self-hosted, <profile>] selects the profile, case-insensitively', () => {
    expect(profileForLabels(['self-hosted', 'coder'], profiles, 'tf-host-mac-a')?.name).toBe('coder');
    expect(profileForLabels(['Self-Hosted', 'CODER'], profiles, 'tf-host-mac-a')?.name).toBe('coder');
    expect(profileForLabels(['self-hosted', 'coder', 'tf-host-mac-a'], profiles, 'tf-host-mac-a')?.name).toBe('coder');
  });
  test('GitHub-hosted, bare self-hosted, unknown labels and other hosts match nothing', () => {
    for (const labels of [['ubuntu-latest'], ['coder'], ['self-hosted'], ['self-hosted', 'gpu'], ['self-hosted', 'coder', 'gpu'], ['self-hosted', 'coder', 'tf-host-mac-b']]) {
      expect(profileForLabels(labels, profiles, 'tf-host-mac-a')).toBeUndefined();
    }
  });
  test("a profile's extra labels are matched too", () => {
    const cfg = seedConfig({ profiles: { coder: { ram_mb: 2048, cpu: 2, timeout_minutes: 60, labels: ['macos-15', 'arm64'] } } });
    expect(profileForLabels(['self-hosted', 'macOS-15', 'ARM64'], cfg.profiles, 'x')?.name).toBe('coder');
  });
});
