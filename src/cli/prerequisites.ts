/**
 * The prerequisite checks of `validate`, one line each: tart found and its version, golden images
 * present and each profile fitting its image (image-checks.ts), free disk under TART_HOME, GitHub reachable with the permissions the daemon needs (the
 * token's permissions and the runner group: github-checks.ts), guest SSH credentials, and on macOS
 * the DHCP lease time and the login keychain.
 *
 * ## Gotchas
 * - tart's version floors come from `git log -S` on tart's source (audit tart.md #7): the adapter
 *   always passes `--no-clipboard` and by default `--random-mac` (both since 2.10.0, older tart exits
 *   64 `Unknown option`), `--root-disk-opts` needs 2.16.0, `--net-softnet-block` 2.30.0. A source
 *   build prints `SNAPSHOT`: unknown, so a warning. tart has only `--version`, no `version` command.
 * - Softnet under a daemon (audit #1): tart offers to make softnet setuid root only when its stdout
 *   is a TTY, never under launchd, so every Softnet VM fails unless `softnet` is on the daemon's PATH
 *   and is root-owned with the setuid bit (or runs under passwordless `sudo -n`). The check resolves
 *   brew's symlink, because the bit must be on the Cellar file, and brew upgrades drop it.
 * - Mac-only checks (DHCP lease, keychain) say "skipped (not macOS)" elsewhere rather than pass.
 * - Nothing here changes the world: GitHub is only read (listing runners proves the org-runner
 *   permission for reading; creating a runner would be the only proof of write, and is not done:
 *   an App's installation permissions and a classic PAT's scopes are read instead).
 */
import { execFile } from 'node:child_process';
import { statfsSync, existsSync, realpathSync, statSync, type Stats } from 'node:fs';
import { homedir, platform } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { goldenImages, type Config } from '../config/types.js';
import { TartError } from '../core/ports.js';
import { sshCredentials } from '../adapters/ssh.js';
import { buildAdapters, secretEnv, quietContext } from './wiring.js';
import { githubAccessChecks } from './github-checks.js';
import { githubFleetChecks } from './github-fleet-checks.js';
import { githubFailureCheck } from './github-diagnosis.js';
import { githubHookChecks } from './github-hook-checks.js';
import { hostLabel } from '../core/names.js';
import { imageFitChecks } from './image-checks.js';
import { tartHomeOf, type CliContext } from './context.js';
import type { CheckResult } from './checks.js';

const run = promisify(execFile);

/** Below this many GB free under TART_HOME, clones and runner work folders may fail mid-job. */
const MIN_FREE_DISK_GB = 30;
/** Real tart's default DHCP lease (86,400 s) runs out after ~253 VMs a day (Tart FAQ). */
const LEASE_POOL = 253;

export async function prerequisiteChecks(ctx: CliContext, config: Config): Promise<CheckResult[]> {
  const quietCtx = quietContext(ctx);
  const { tart, github, githubAccess } = buildAdapters(quietCtx, config, { needGuest: false, lenient: true });
  const results: CheckResult[] = [];

  try {
    const version = (await tart.version()).trim();
    results.push(tartVersionCheck(version, config, ctx.env.TART_FLEET_TART_BIN || 'tart on PATH'));
    const names = new Set((await tart.list()).map((v) => v.name));
    for (const image of goldenImages(config)) {
      results.push(
        names.has(image)
          ? { status: 'ok', what: 'golden image', detail: `${image} exists` }
          : { status: 'fail', what: 'golden image', detail: `${image} not found in tart list; build it as images/README.md shows` },
      );
    }
  } catch (err) {
    const advice = err instanceof TartError && err.kind === 'tart-missing' ? ' (install it: brew install cirruslabs/cli/tart)' : '';
    results.push({ status: 'fail', what: 'tart', detail: `${(err as Error).message}${advice}` });
  }
  results.push(...imageFitChecks(tartHomeOf(ctx), config));
  if (usesSoftnet(config)) results.push(await softnetCheck(ctx.env.PATH ?? ''));
  if (config.vm.root_disk_opts !== '') results.push(rootDiskOptsCheck(config.vm.root_disk_opts));

  results.push(diskCheck(tartHomeOf(ctx)));

  let githubFailed = false;
  try {
    const runners = await github.listRunners();
    results.push({ status: 'ok', what: 'github runners', detail: `${config.github.api_url}: org ${config.github.org} readable, ${runners.length} tart-fleet runner(s) registered (needs Self-hosted runners: read & write)` });
    const demand = await github.listJobs();
    results.push({ status: 'ok', what: 'github actions', detail: `${demand.stats.repositories} repositories swept, ${demand.jobs.length} queued or running job(s); rate limit left ${demand.stats.rateLimitRemaining ?? '?'}` });
  } catch (err) {
    results.push(githubFailureCheck(err, config.github.org));
    githubFailed = true;
  }
  // Without credentials the `github` line above already says so.
  if (githubAccess) {
    results.push(...(await githubAccessChecks(githubAccess, config.github.runner_group_id, { githubFailed })));
    results.push(...(await githubFleetChecks(githubAccess, config, hostLabel(config.github.runner_name), { githubFailed })));
    results.push(...(await githubHookChecks(githubAccess, config)));
  }

  try {
    const creds = sshCredentials(secretEnv(ctx), config.vm);
    results.push({ status: 'ok', what: 'guest ssh', detail: `user ${config.vm.ssh_user}, ${creds.privateKey ? 'private key' : 'password from TART_FLEET_SSH_PASSWORD'}, host key ${config.vm.ssh_host_key === 'accept-any' ? 'not pinned (accept-any: NAT-only throwaway VMs)' : 'pinned'}` });
  } catch (err) {
    results.push({ status: 'fail', what: 'guest ssh', detail: (err as Error).message });
  }

  results.push(...(await macChecks()));
  // The launchd install against the images, and what the LaunchAgent mode needs of this Mac.
  if (platform() === 'darwin') results.push(...(await (await import('./launchd-mode-checks.js')).launchdHostChecks(config)));
  return results;
}

/** [major, minor, patch] of a tart version string, or undefined (SNAPSHOT, garbage). */
export function parseTartVersion(v: string): [number, number, number] | undefined {
  const m = /^v?(\d+)\.(\d+)(?:\.(\d+))?/.exec(v.trim());
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : undefined;
}

function below(v: [number, number, number], floor: [number, number, number]): boolean {
  for (let i = 0; i < 3; i++) if ((v[i] ?? 0) !== floor[i]) return (v[i] ?? 0) < (floor[i] ?? 0);
  return false;
}

/** True when any VM of this config would run with Softnet (config/load.ts resolves each profile's network). */
export function usesSoftnet(config: Config): boolean {
  return Object.values(config.profiles).some((p) => p.network === 'softnet');
}

function usesSoftnetBlock(config: Config): boolean {
  return Object.values(config.profiles).some((p) => p.network === 'softnet' && p.net_softnet_block.length > 0);
}

/** tart's version against the features this config makes the adapter use. */
export function tartVersionCheck(version: string, config: Config, where: string): CheckResult {
  const v = parseTartVersion(version);
  if (!v) {
    return { status: 'warn', what: 'tart', detail: `version ${version || '(none)'} is unknown (a source build prints SNAPSHOT): cannot tell whether it has --no-clipboard/--random-mac (2.10.0)${config.vm.root_disk_opts !== '' ? ', --root-disk-opts (2.16.0)' : ''}${usesSoftnetBlock(config) ? ', --net-softnet-block (2.30.0)' : ''}${config.vm.runner_delivery === 'exec' ? ', tart exec (2.27.0)' : ''} (${where})` };
  }
  const needs: string[] = [];
  if (below(v, [2, 10, 0])) needs.push('2.10.0 for --no-clipboard and --random-mac, which every VM start uses');
  if (config.vm.root_disk_opts !== '' && below(v, [2, 16, 0])) needs.push('2.16.0 for --root-disk-opts (vm.root_disk_opts is set)');
  if (usesSoftnetBlock(config) && below(v, [2, 30, 0])) needs.push('2.30.0 for --net-softnet-block (a Softnet block list is set)');
  if (config.vm.runner_delivery === 'exec' && below(v, [2, 27, 0])) needs.push('2.27.0 for tart exec (vm.runner_delivery: exec; the guest also needs the Tart Guest Agent)');
  if (needs.length > 0) {
    return { status: 'fail', what: 'tart', detail: `version ${version} is too old: needs ${needs.join('; ')} (brew upgrade cirruslabs/cli/tart) (${where})` };
  }
  return { status: 'ok', what: 'tart', detail: `version ${version} (${where})` };
}

/**
 * `vm.root_disk_opts` as tart reads it (Run.swift): `sync=full|fsync|none`, `caching=automatic|
 * cached|uncached`; anything else in those keys makes every `tart run` exit 1 (audit tart.md #25).
 */
export function rootDiskOptsCheck(opts: string): CheckResult {
  for (const word of opts.split(',')) {
    const [k, v = ''] = word.split('=');
    if (k === 'sync' && !['full', 'fsync', 'none'].includes(v)) {
      return { status: 'fail', what: 'root disk opts', detail: `vm.root_disk_opts: sync=${v} is not full, fsync or none; tart run would fail with: unsupported disk image synchronization mode: "${v}"` };
    }
    if (k === 'caching' && !['automatic', 'cached', 'uncached'].includes(v)) {
      return { status: 'fail', what: 'root disk opts', detail: `vm.root_disk_opts: caching=${v} is not automatic, cached or uncached; tart run would fail` };
    }
  }
  return { status: 'ok', what: 'root disk opts', detail: opts };
}

/** The fix commands for Softnet under a daemon, for a softnet at `path` (the resolved Cellar file). */
export function softnetFix(path: string | undefined): string {
  const p = path ?? '"$(realpath "$(which softnet)")"';
  return `sudo chown root ${p} && sudo chmod u+s ${p} (redo after every brew upgrade of softnet)`;
}

export interface SoftnetProbes {
  stat(path: string): Stats;
  realpath(path: string): string;
  /** Resolves true when `sudo -n <path> --help` succeeds (passwordless sudo). */
  sudoOk(path: string): Promise<boolean>;
}

const realProbes: SoftnetProbes = {
  stat: (p) => statSync(p),
  realpath: (p) => realpathSync(p),
  sudoOk: async (p) => {
    try {
      await run('sudo', ['-n', p, '--help'], { timeout: 5000 });
      return true;
    } catch {
      return false;
    }
  },
};

/**
 * Softnet for a daemon's `tart run`: on PATH, root-owned and setuid (or runnable by `sudo -n`),
 * with the exact fix commands when not.
 */
export async function softnetCheck(path: string, probes: SoftnetProbes = realProbes): Promise<CheckResult> {
  let found: string | undefined;
  for (const dir of path.split(delimiter).filter(Boolean)) {
    try {
      const candidate = join(dir, 'softnet');
      if (probes.stat(candidate).isFile()) {
        found = candidate;
        break;
      }
    } catch {
      // not in this dir
    }
  }
  if (!found) {
    return { status: 'fail', what: 'softnet', detail: `Softnet is configured but softnet is not on PATH (${path || 'empty'}): tart run fails with "softnet not found in PATH". Install it: brew install cirruslabs/cli/softnet, then ${softnetFix(undefined)}` };
  }
  const real = probes.realpath(found);
  const st = probes.stat(real);
  if (st.uid === 0 && (st.mode & 0o4000) !== 0) {
    return { status: 'ok', what: 'softnet', detail: `${real} is setuid root` };
  }
  if (await probes.sudoOk(real)) {
    return { status: 'ok', what: 'softnet', detail: `${real} runs under passwordless sudo` };
  }
  return {
    status: 'fail',
    what: 'softnet',
    detail: `${real} is not setuid root and passwordless sudo cannot run it: under the daemon tart never sets it up, so every Softnet VM dies ("Softnet process terminated prematurely"). Fix: ${softnetFix(real)}`,
  };
}

function diskCheck(tartHome: string): CheckResult {
  const where = existsSync(tartHome) ? tartHome : homedir();
  try {
    const s = statfsSync(where);
    const freeGb = Math.floor((s.bavail * s.bsize) / 1e9);
    return freeGb >= MIN_FREE_DISK_GB
      ? { status: 'ok', what: 'disk', detail: `${freeGb} GB free under ${where}` }
      : { status: 'warn', what: 'disk', detail: `only ${freeGb} GB free under ${where}; clones and job work folders may fail (want ${MIN_FREE_DISK_GB} GB)` };
  } catch (err) {
    return { status: 'warn', what: 'disk', detail: `cannot read free space of ${where}: ${(err as Error).message}` };
  }
}

async function macChecks(): Promise<CheckResult[]> {
  if (platform() !== 'darwin') {
    return [
      { status: 'warn', what: 'dhcp lease', detail: 'skipped (not macOS)' },
      { status: 'warn', what: 'keychain', detail: 'skipped (not macOS)' },
    ];
  }
  const out: CheckResult[] = [];
  try {
    const { stdout } = await run('defaults', ['read', '/Library/Preferences/SystemConfiguration/com.apple.InternetSharing.default.plist', 'bootpd']);
    const lease = Number(/DHCPLeaseTimeSecs\s*=\s*(\d+)/.exec(stdout)?.[1] ?? 86_400);
    const perDay = Math.floor((LEASE_POOL * 86_400) / lease);
    out.push({ status: lease <= 3600 ? 'ok' : 'warn', what: 'dhcp lease', detail: `${lease} s: about ${perDay} VMs a day before leases run out${lease > 3600 ? ' (set 600 s: docs/real-mac-guide.md §5)' : ''}` });
  } catch {
    out.push({ status: 'warn', what: 'dhcp lease', detail: `not set: the default 86400 s allows about ${LEASE_POOL} VMs a day (set 600 s: docs/real-mac-guide.md §5)` });
  }
  try {
    await run('security', ['show-keychain-info', join(homedir(), 'Library', 'Keychains', 'login.keychain-db')]);
    out.push({ status: 'ok', what: 'keychain', detail: 'login keychain unlocked' });
  } catch {
    out.push({ status: 'fail', what: 'keychain', detail: 'login keychain locked or missing: VMs will not start on macOS 15+ (security unlock-keychain)' });
  }
  return out;
}
