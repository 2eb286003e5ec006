/**
 * The prerequisite checks of `validate`, one line each: tart found and its version, golden images
 * present and each profile fitting its image (image-checks.ts), free disk under TART_HOME, GitHub reachable with the permissions the daemon needs (the
 * token's permissions and the runner group: github-checks.ts), guest SSH credentials, and on macOS
 * the DHCP lease time and the login keychain.
 *
 * ## Gotchas
 * - Mac-only checks (DHCP lease, keychain) say "skipped (not macOS)" elsewhere rather than pass.
 * - Nothing here changes the world: GitHub is only read (listing runners proves the org-runner
 *   permission for reading; creating a runner would be the only proof of write, and is not done:
 *   an App's installation permissions and a classic PAT's scopes are read instead).
 */
import { execFile } from 'node:child_process';
import { statfsSync, existsSync } from 'node:fs';
import { homedir, platform } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { goldenImages, type Config } from '../config/types.js';
import { TartError } from '../core/ports.js';
import { sshCredentials } from '../adapters/ssh.js';
import { buildAdapters, secretEnv, quietContext } from './wiring.js';
import { githubAccessChecks } from './github-checks.js';
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
    results.push({ status: 'ok', what: 'tart', detail: `version ${(await tart.version()).trim()} (${ctx.env.TART_FLEET_TART_BIN || 'tart on PATH'})` });
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

  results.push(diskCheck(tartHomeOf(ctx)));

  let githubFailed = false;
  try {
    const runners = await github.listRunners();
    results.push({ status: 'ok', what: 'github runners', detail: `${config.github.api_url}: org ${config.github.org} readable, ${runners.length} tart-fleet runner(s) registered (needs Self-hosted runners: read & write)` });
    const demand = await github.listJobs();
    results.push({ status: 'ok', what: 'github actions', detail: `${demand.stats.repositories} repositories swept, ${demand.jobs.length} queued or running job(s); rate limit left ${demand.stats.rateLimitRemaining ?? '?'}` });
  } catch (err) {
    results.push({ status: 'fail', what: 'github', detail: (err as Error).message });
    githubFailed = true;
  }
  // Without credentials the `github` line above already says so.
  if (githubAccess) {
    results.push(...(await githubAccessChecks(githubAccess, config.github.runner_group_id, { githubFailed })));
  }

  try {
    const creds = sshCredentials(secretEnv(ctx), config.vm);
    results.push({ status: 'ok', what: 'guest ssh', detail: `user ${config.vm.ssh_user}, ${creds.privateKey ? 'private key' : 'password from TART_FLEET_SSH_PASSWORD'}, host key ${config.vm.ssh_host_key === 'accept-any' ? 'not pinned (accept-any: NAT-only throwaway VMs)' : 'pinned'}` });
  } catch (err) {
    results.push({ status: 'fail', what: 'guest ssh', detail: (err as Error).message });
  }

  results.push(...(await macChecks()));
  return results;
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
    out.push({ status: lease <= 3600 ? 'ok' : 'warn', what: 'dhcp lease', detail: `${lease} s: about ${perDay} VMs a day before leases run out${lease > 3600 ? ' (set 600 s, see the README)' : ''}` });
  } catch {
    out.push({ status: 'warn', what: 'dhcp lease', detail: `not set: the default 86400 s allows about ${LEASE_POOL} VMs a day (set 600 s, see the README)` });
  }
  try {
    await run('security', ['show-keychain-info', join(homedir(), 'Library', 'Keychains', 'login.keychain-db')]);
    out.push({ status: 'ok', what: 'keychain', detail: 'login keychain unlocked' });
  } catch {
    out.push({ status: 'fail', what: 'keychain', detail: 'login keychain locked or missing: VMs will not start on macOS 15+ (security unlock-keychain)' });
  }
  return out;
}
