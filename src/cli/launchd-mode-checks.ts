/**
 * What the launchd install needs of this Mac, for `validate` (and `launchd --mode daemon`'s
 * warnings): the install mode against the guests it must boot, and the host settings the default
 * LaunchAgent mode depends on.
 *
 * - Mode vs images: a LaunchDaemon runs outside any login session, so the user has no unlocked
 *   login keychain, and Virtualization.framework refuses to start a macOS 15 or later guest
 *   without one (tart FAQ, "Headless machines": "Without an existing and unlocked login.keychain,
 *   the VM won't start"; tart #921, #1132, #1146). macOS ≤ 14 and Linux guests are not affected.
 *   tart records no guest macOS version in a VM's config.json, so the version is read from the
 *   image's name (sequoia/tahoe/15/26 → 15+, sonoma…big sur/11–14 → ≤ 14); a macOS image whose name
 *   says neither is treated as 15+ (fail closed: current base images are).
 * - Automatic login for the user the agent runs as (`com.apple.loginwindow autoLoginUser`): after
 *   a restart (a power cut, an update) nobody logs in, so no GUI session, no agent, no jobs.
 *   FileVault turns automatic login off ("If FileVault is turned on, automatic login is disabled":
 *   Apple, Mac User Guide, "Log in automatically").
 * - Power: `pmset` sleep 0 (a sleeping Mac runs no VMs) and autorestart 1 (come back after a power
 *   cut), as Bun's Tart fleet sets them.
 * - Local Network privacy (macOS 15+): a LaunchAgent is not exempt (TN3179 exempts daemons; Cirrus
 *   Labs' cirrus-cli worker code says even daemons with UserName are not), so SSH delivery from the
 *   agent to 192.168.64.x needs the `com.apple.network.local-network` preference the tart FAQ
 *   documents, then a reboot. It lives in root's preferences, so this check can only say how to
 *   look; the boot proof sees the real answer.
 *
 * ## Gotchas
 * - Every probe is a macOS command run through `probes` (the real ones below); a probe that fails
 *   to run is "cannot tell", a warn, never an ok.
 * - Nothing here runs `tart login`: it writes the keychain and fails headless (-25308, tart FAQ);
 *   registry credentials come from TART_REGISTRY_USERNAME/PASSWORD in the pulling shell.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { promisify } from 'node:util';
import { imageOf, type Config } from '../config/types.js';
import { AGENT_LABEL, DAEMON_LABEL, LAUNCH_DAEMONS_DIR, launchAgentsDir, plistPath } from '../launchd/plist.js';
import type { CheckResult } from './checks.js';

/** Which macOS an image is, from its name: 15 or later, 14 or earlier, or not said. */
export function macosGeneration(image: string): 'macos-15+' | 'macos-14-' | 'unknown' {
  const n = image.toLowerCase();
  if (/sequoia|tahoe|(^|[^0-9])(15|26)([^0-9]|$)/.test(n)) return 'macos-15+';
  if (/sonoma|ventura|monterey|big-?sur|(^|[^0-9])(11|12|13|14)([^0-9]|$)/.test(n)) return 'macos-14-';
  return 'unknown';
}

/** Daemon mode against every macOS image the profiles clone: FAIL unless the image is macOS ≤ 14. */
export function daemonModeImageChecks(config: Config): CheckResult[] {
  const images = new Map<string, string[]>();
  for (const p of Object.values(config.profiles)) {
    if (p.os !== 'macos') continue;
    const image = imageOf(p, config);
    images.set(image, [...(images.get(image) ?? []), p.name]);
  }
  const results: CheckResult[] = [];
  for (const [image, profiles] of images) {
    const gen = macosGeneration(image);
    if (gen === 'macos-14-') {
      results.push({ status: 'ok', what: 'launchd mode', detail: `LaunchDaemon with ${image} (macOS 14 or older by its name): needs no login keychain` });
      continue;
    }
    results.push({
      status: 'fail',
      what: 'launchd mode',
      detail: `a LaunchDaemon cannot start ${image} (${gen === 'macos-15+' ? 'macOS 15 or later by its name' : 'a macOS image whose name does not say 14 or older'}; profiles ${profiles.join(', ')}): ` +
        'Virtualization.framework starts a macOS 15+ guest only for a user with an unlocked login keychain, which a daemon has not (tart FAQ "Headless machines"; tart #921, #1132)',
      fix: 'install the LaunchAgent instead (tart-fleet launchd --uninstall --mode daemon, then tart-fleet launchd --install as the CI user, with automatic login); daemon mode is for Linux and macOS 14 or older guests',
    });
  }
  return results;
}

/** The install found on this Mac: the agent plist of this user, the daemon plist, both or none. */
export function launchdModeChecks(installed: { agent: boolean; daemon: boolean }, config: Config): CheckResult[] {
  const results: CheckResult[] = [];
  if (installed.daemon) results.push(...daemonModeImageChecks(config));
  if (installed.agent && installed.daemon) {
    results.push({ status: 'fail', what: 'launchd', detail: 'both the LaunchAgent and the LaunchDaemon are installed: two daemons would run one Mac', fix: 'remove one: sudo tart-fleet launchd --uninstall --mode daemon' });
  } else if (installed.agent) {
    results.push({ status: 'ok', what: 'launchd', detail: `LaunchAgent ${AGENT_LABEL} installed for this user (gui session)` });
  } else if (!installed.daemon) {
    results.push({ status: 'warn', what: 'launchd', detail: 'not installed yet', fix: 'tart-fleet launchd --install (as the CI user: a LaunchAgent in its GUI session)' });
  }
  return results;
}

export interface HostProbes {
  /** Runs a command; code -1 when it could not run at all. */
  run(cmd: string, args: string[]): Promise<{ code: number; stdout: string }>;
}

const execFileP = promisify(execFile);
export const realHostProbes: HostProbes = {
  run: async (cmd, args) => {
    try {
      const { stdout } = await execFileP(cmd, args, { timeout: 10_000 });
      return { code: 0, stdout };
    } catch (err) {
      const e = err as { code?: number | string; stdout?: string };
      return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '' };
    }
  },
};

/** `pmset -g` value of a setting (a number), or undefined. */
export function pmsetValue(text: string, key: string): number | undefined {
  const m = new RegExp(`^\\s*${key}\\s+(\\d+)`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

/**
 * What the LaunchAgent mode needs of the host, checked for `user` (the one validate runs as, who
 * the agent runs as). `delivery` is vm.runner_delivery: the Local Network line applies to ssh.
 */
export async function hostSessionChecks(user: string, delivery: string, probes: HostProbes = realHostProbes): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const vault = await probes.run('fdesetup', ['status']);
  const fileVaultOn = vault.code === 0 && /FileVault is On/i.test(vault.stdout);
  const auto = await probes.run('defaults', ['read', '/Library/Preferences/com.apple.loginwindow', 'autoLoginUser']);
  const autoUser = auto.code === 0 ? auto.stdout.trim() : '';
  if (fileVaultOn) {
    results.push({ status: 'fail', what: 'automatic login', detail: 'FileVault is on, which turns automatic login off: after a restart nobody logs in, so the LaunchAgent (and every VM) waits for someone at the console', fix: 'turn FileVault off on this fleet Mac (System Settings → Privacy & Security → FileVault), then turn on automatic login for this user' });
  } else if (autoUser === user) {
    results.push({ status: 'ok', what: 'automatic login', detail: `${user} logs in automatically after a restart (FileVault off): the LaunchAgent comes back by itself` });
  } else {
    results.push({ status: 'fail', what: 'automatic login', detail: autoUser === '' ? `no automatic login: after a restart nobody logs in and the LaunchAgent does not run` : `automatic login is ${autoUser}, not ${user}: the LaunchAgent of ${user} runs only while ${user} is logged in`, fix: `System Settings → Users & Groups → Automatically log in as: ${user} (needs FileVault off)` });
  }
  const pm = await probes.run('pmset', ['-g']);
  if (pm.code !== 0) {
    results.push({ status: 'warn', what: 'power', detail: 'cannot read pmset -g', fix: 'sudo pmset -a sleep 0 autorestart 1' });
  } else {
    const sleep = pmsetValue(pm.stdout, 'sleep');
    const autorestart = pmsetValue(pm.stdout, 'autorestart');
    const problems = [
      ...(sleep !== 0 ? [`sleep is ${sleep ?? 'unset'} (the Mac sleeps and its VMs with it)`] : []),
      ...(autorestart !== 1 ? [`autorestart is ${autorestart ?? 'unset'} (after a power cut the Mac stays off)`] : []),
    ];
    results.push(problems.length === 0
      ? { status: 'ok', what: 'power', detail: 'sleep 0 and autorestart 1: the Mac stays awake and comes back after a power cut' }
      : { status: 'fail', what: 'power', detail: problems.join('; '), fix: 'sudo pmset -a sleep 0 autorestart 1' });
  }
  const ver = await probes.run('sw_vers', ['-productVersion']);
  const major = Number(/^(\d+)/.exec(ver.stdout.trim())?.[1] ?? NaN);
  if (delivery === 'ssh' && (!Number.isFinite(major) || major >= 15)) {
    results.push({
      status: 'warn',
      what: 'local network',
      detail: `${Number.isFinite(major) ? `macOS ${major}` : 'this macOS'} blocks a LaunchAgent's connections to guests (192.168.64.x) unless the Local Network preference allows them (agents are not exempt; tart FAQ); it is root's setting, so validate cannot read it`,
      fix: 'sudo defaults write com.apple.network.local-network AllowedEthernetLocalNetworkAddresses -array "10.0.0.0/8" "172.16.0.0/12" "192.168.0.0/16", then restart; check: sudo defaults read com.apple.network.local-network',
    });
  }
  return results;
}

/** validate's launchd lines on a Mac: the installed mode against the images, and the agent's host settings. */
export async function launchdHostChecks(config: Config, probes: HostProbes = realHostProbes): Promise<CheckResult[]> {
  const home = homedir();
  const installed = {
    agent: existsSync(plistPath(AGENT_LABEL, launchAgentsDir(home))),
    daemon: existsSync(plistPath(DAEMON_LABEL, LAUNCH_DAEMONS_DIR)),
  };
  const results = launchdModeChecks(installed, config);
  // The host settings matter to the agent (the default); a daemon-only Mac needs none of them.
  if (!(installed.daemon && !installed.agent)) results.push(...(await hostSessionChecks(userInfo().username, config.vm.runner_delivery, probes)));
  return results;
}
