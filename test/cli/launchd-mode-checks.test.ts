// What the launchd install needs of a Mac, as validate reports it: daemon mode FAILs a macOS 15+
// (or unnamed) image, the LaunchAgent's host settings (automatic login and FileVault, pmset, Local
// Network) read from the real commands' output. The probes stand in for macOS's own commands
// (fdesetup, defaults, pmset, sw_vers), answering with the text those commands print.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { PACKAGE_ROOT } from '../../src/config/package.js';
import { daemonModeImageChecks, hostSessionChecks, launchdModeChecks, macosGeneration, pmsetValue, type HostProbes } from '../../src/cli/launchd-mode-checks.js';

function shipped(env: NodeJS.ProcessEnv = {}) {
  return loadConfig({ path: join(PACKAGE_ROOT, 'pipeline.yml'), env, cwd: tmpdir(), hostname: 'mini', totalMemBytes: 16 * 1024 ** 3 }).config;
}

// `pmset -g` on macOS 15 (abridged): note "Sleep On Power Button" and "disksleep" are not "sleep".
const PMSET = (sleep: string, autorestart: string) => `System-wide power settings:\nCurrently in use:\n standby              0\n Sleep On Power Button 1\n disksleep            10\n sleep                ${sleep}\n autorestart          ${autorestart}\n womp                 1\n`;

function probes(answers: Record<string, { code: number; stdout: string }>): HostProbes {
  return { run: async (cmd, args) => answers[[cmd, ...args].join(' ')] ?? { code: 1, stdout: '' } };
}
const AUTO = 'defaults read /Library/Preferences/com.apple.loginwindow autoLoginUser';

test('macosGeneration reads the version from the image name', () => {
  expect(macosGeneration('ghcr.io/cirruslabs/macos-sequoia-base:latest')).toBe('macos-15+');
  expect(macosGeneration('macos-tahoe-xcode')).toBe('macos-15+');
  expect(macosGeneration('runner-15.4')).toBe('macos-15+');
  expect(macosGeneration('sonoma-xcode')).toBe('macos-14-');
  expect(macosGeneration('macos-14-base')).toBe('macos-14-');
  expect(macosGeneration('workhorse')).toBe('unknown');
});

test('daemon mode with the shipped config (workhorse, whose name says no version): FAIL for every macOS profile, with the fix; a Sonoma image passes; Linux profiles are not its business', () => {
  const fails = daemonModeImageChecks(shipped());
  expect(fails).toEqual([{ status: 'fail', what: 'launchd mode', detail: expect.stringMatching(/^a LaunchDaemon cannot start workhorse .*profiles developer, coder, marketer.*unlocked login keychain/), fix: expect.stringMatching(/install the LaunchAgent instead/) }]);
  expect(daemonModeImageChecks(shipped({ TART_FLEET_VM_IMAGE: 'ghcr.io/cirruslabs/macos-sequoia-base:latest' }))[0]).toMatchObject({ status: 'fail', detail: expect.stringMatching(/macOS 15 or later by its name/) });
  expect(daemonModeImageChecks(shipped({ TART_FLEET_VM_IMAGE: 'sonoma-xcode' })).map((r) => r.status)).toEqual(['ok']);
});

test('launchdModeChecks: the agent alone is ok; the daemon brings the image check; both is a FAIL; none says how to install', () => {
  const config = shipped();
  expect(launchdModeChecks({ agent: true, daemon: false }, config)).toEqual([{ status: 'ok', what: 'launchd', detail: expect.stringMatching(/LaunchAgent dev\.tart-fleet\.agent installed/) }]);
  expect(launchdModeChecks({ agent: false, daemon: true }, config).map((r) => [r.what, r.status])).toEqual([['launchd mode', 'fail']]);
  expect(launchdModeChecks({ agent: true, daemon: true }, config).map((r) => [r.what, r.status])).toEqual([['launchd mode', 'fail'], ['launchd', 'fail']]);
  expect(launchdModeChecks({ agent: false, daemon: false }, config)).toEqual([{ status: 'warn', what: 'launchd', detail: 'not installed yet', fix: expect.stringMatching(/tart-fleet launchd --install/) }]);
});

test('pmsetValue reads one setting', () => {
  expect(pmsetValue(PMSET('1 (sleep prevented by sharingd)', '0'), 'sleep')).toBe(1);
  expect(pmsetValue(PMSET('0', '1'), 'autorestart')).toBe(1);
  expect(pmsetValue('', 'sleep')).toBeUndefined();
});

test('a ready host: automatic login of this user, FileVault off, sleep 0, autorestart 1; SSH delivery on macOS 15 still gets the Local Network advice', async () => {
  const ready = probes({
    'fdesetup status': { code: 0, stdout: 'FileVault is Off.\n' },
    [AUTO]: { code: 0, stdout: 'ci\n' },
    'pmset -g': { code: 0, stdout: PMSET('0', '1') },
    'sw_vers -productVersion': { code: 0, stdout: '15.5\n' },
  });
  const results = await hostSessionChecks('ci', 'ssh', ready);
  expect(results.map((r) => [r.what, r.status])).toEqual([['automatic login', 'ok'], ['power', 'ok'], ['local network', 'warn']]);
  expect(results[2]!.fix).toMatch(/AllowedEthernetLocalNetworkAddresses .* then restart/);
  expect((await hostSessionChecks('ci', 'exec', ready)).map((r) => r.what)).not.toContain('local network');
});

test('FileVault on: automatic login FAILs naming FileVault; no automatic login, another user, a sleeping Mac: each FAILs with its fix', async () => {
  const vault = await hostSessionChecks('ci', 'exec', probes({ 'fdesetup status': { code: 0, stdout: 'FileVault is On.\n' }, [AUTO]: { code: 0, stdout: 'ci\n' }, 'pmset -g': { code: 0, stdout: PMSET('0', '1') } }));
  expect(vault[0]).toMatchObject({ status: 'fail', what: 'automatic login', detail: expect.stringMatching(/FileVault is on, which turns automatic login off/) });
  const none = await hostSessionChecks('ci', 'exec', probes({ 'fdesetup status': { code: 0, stdout: 'FileVault is Off.\n' }, 'pmset -g': { code: 0, stdout: PMSET('10', '0') } }));
  expect(none[0]).toMatchObject({ status: 'fail', detail: expect.stringMatching(/no automatic login/), fix: expect.stringMatching(/Automatically log in as: ci/) });
  expect(none[1]).toMatchObject({ status: 'fail', what: 'power', detail: 'sleep is 10 (the Mac sleeps and its VMs with it); autorestart is 0 (after a power cut the Mac stays off)', fix: 'sudo pmset -a sleep 0 autorestart 1' });
  const other = await hostSessionChecks('ci', 'exec', probes({ 'fdesetup status': { code: 0, stdout: 'FileVault is Off.\n' }, [AUTO]: { code: 0, stdout: 'admin\n' } }));
  expect(other[0]).toMatchObject({ status: 'fail', detail: expect.stringMatching(/automatic login is admin, not ci/) });
  expect(other[1]).toMatchObject({ status: 'warn', what: 'power' });
});
