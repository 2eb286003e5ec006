/**
 * `tart-fleet ls --fleet`: every Mac of the org at a glance, from what GitHub already holds: the
 * org's `tf-` runners (one GET of `/orgs/{org}/actions/runners`, paged), grouped by the
 * `tf-host-<runner_name>` label each Mac puts on its runners (core/names.ts). Per Mac: its runners,
 * how many are busy, online, offline or still starting, and the profiles they serve. No extra
 * infrastructure: nothing is published anywhere for this.
 *
 * Exit codes: 0 ok; 4 GitHub could not be read (nothing is shown then, rather than an empty fleet).
 *
 * ## Gotchas
 * - tart-fleet makes a JIT runner per job and deletes it when the job is done, so a Mac shows here
 *   only while it holds a runner: an idle Mac, or one whose daemon is down with no VM left, is not
 *   listed. The output says so. What a Mac itself knows (drained or not, RAM, its queue) is in its
 *   own `tart-fleet ls`; a Mac publishing that where the org can read it would be an opt-in
 *   addition and is not built.
 * - Runners are counted, not jobs: GitHub's runner list has no job id. A runner that is `busy` runs
 *   exactly one job.
 * - A `tf-` runner without a `tf-host-` label (made by hand, or by another tool) is listed under
 *   "(no tf-host label)".
 */
import Table from 'cli-table3';
import type { Runner } from '../core/ports.js';
import { parseRunnerName } from '../core/names.js';
import { loadForCommand } from './config.js';
import { buildAdapters, quietContext } from './wiring.js';
import { println, type CliContext } from './context.js';

export const EXIT_DEGRADED = 4;
const NO_HOST = '(no tf-host label)';

export interface MacRow {
  name: string;
  this_mac: boolean;
  runners: number;
  busy: number;
  idle: number;
  /** Registered, never connected yet: a VM still booting (or a claim whose Mac died). */
  starting: number;
  offline: number;
  profiles: string[];
  runner_names: string[];
}

/** The org's `tf-` runners, per Mac (its `tf-host-` label), this Mac first, then by name. */
export function macsOf(runners: Runner[], thisMac: string): MacRow[] {
  const rows = new Map<string, MacRow>();
  for (const r of runners) {
    const claim = parseRunnerName(r.name);
    if (!claim) continue;
    const label = r.labels.find((l) => l.toLowerCase().startsWith('tf-host-'));
    const name = label ? label.slice('tf-host-'.length) : NO_HOST;
    let row = rows.get(name.toLowerCase());
    if (!row) rows.set(name.toLowerCase(), (row = { name, this_mac: name.toLowerCase() === thisMac.toLowerCase(), runners: 0, busy: 0, idle: 0, starting: 0, offline: 0, profiles: [], runner_names: [] }));
    row.runners += 1;
    if (r.busy) row.busy += 1;
    else if (!r.everConnected) row.starting += 1;
    else if (r.status === 'online') row.idle += 1;
    else row.offline += 1;
    if (!row.profiles.includes(claim.profile)) row.profiles.push(claim.profile);
    row.runner_names.push(r.name);
  }
  for (const row of rows.values()) {
    row.profiles.sort();
    row.runner_names.sort();
  }
  return [...rows.values()].sort((a, b) => Number(b.this_mac) - Number(a.this_mac) || a.name.localeCompare(b.name));
}

export const NOT_SHOWN = 'a Mac shows here only while it holds a runner (one per job): idle Macs, and Macs whose daemon is down with no VM left, are not listed';

export async function fleetCommand(ctx: CliContext, opts: { config?: string; json?: boolean }): Promise<number> {
  const { config } = loadForCommand(ctx, opts.config);
  const { github } = buildAdapters(quietContext(ctx), config, { needGuest: false, lenient: true });
  let runners: Runner[];
  try {
    runners = await github.listRunners();
  } catch (err) {
    println(ctx.stderr, `GitHub could not be read (${(err as Error).message}): the org's runners, and so its Macs, are unknown`);
    return EXIT_DEGRADED;
  }
  const macs = macsOf(runners, config.github.runner_name);
  if (opts.json) {
    println(ctx.stdout, JSON.stringify({ org: config.github.org, this_mac: config.github.runner_name, macs, note: NOT_SHOWN }, null, 2));
    return 0;
  }
  println(ctx.stdout, `Macs of ${config.github.org} holding tart-fleet runners now (from GitHub's runner list):`);
  if (macs.length === 0) {
    println(ctx.stdout, '(none: no tf- runner in the org right now)');
  } else {
    const table = new Table({ head: ['Mac', 'runners', 'busy', 'idle', 'starting', 'offline', 'profiles'], style: { head: [], border: [], compact: true } });
    for (const m of macs) table.push([m.this_mac ? `${m.name} (this Mac)` : m.name, String(m.runners), String(m.busy), String(m.idle), String(m.starting), String(m.offline), m.profiles.join(', ')]);
    println(ctx.stdout, table.toString());
  }
  println(ctx.stdout, `(${NOT_SHOWN}; \`tart-fleet ls\` on a Mac shows its VMs, queue and drain state)`);
  return 0;
}
