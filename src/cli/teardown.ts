/**
 * `tart-fleet teardown`: stops and deletes every VM of this host and deletes every runner of this
 * host — the operator's "start from nothing" (replaces the seed's shell clean-up scripts). Without
 * `--yes` it lists what it would remove and asks on a TTY; without a TTY it refuses (exit 2).
 * One line per thing removed; exit 0 when everything went (and both sides could be read), else 1.
 *
 * What is ours is decided by name only, as the daemon decides it (core/names.ts): a VM whose name
 * parses as `tf-<runner_name>-<profile>-<job>[-n]`, a runner named `tf-<profile>-<job>[-n]` that
 * carries the label `tf-host-<runner_name>`. Golden images, other Macs' runners and VMs, and
 * anything hand-made are never touched.
 *
 * ## Gotchas
 * - Fail closed, per side: if `tart list` cannot be read, no VM is removed; if GitHub cannot be read
 *   (or there are no credentials), no runner is removed. The side that was read is still cleaned,
 *   because what was read is evidence enough for it, and an operator tearing down usually wants
 *   whatever can go to go; the unread side is reported and the exit code is 1.
 * - VMs go first, then runners: stopping the VM ends the runner's job, so fewer runners are still
 *   busy when we try to delete them. GitHub refuses to delete a runner that is running a job
 *   (`busy`); that is reported once, not retried — GitHub frees it when the job ends or times out,
 *   and teardown can be run again then.
 * - A running `tart-fleet run` would re-create VMs for jobs still queued at its next tick: we warn,
 *   and cannot stop it ourselves (launchd would restart it anyway).
 * - Log lines of the adapters go to stderr at level `error`, so stdout is the list of removals.
 * - Commands never read `process.*`; stdin comes from `ctx.stdin` when given (tests), else
 *   `process.stdin`, which only a TTY prompt ever reads.
 */
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { hostLabel, ownedByHost, parseRunnerName, parseVmName } from '../core/names.js';
import type { Runner, Tart, TartVm } from '../core/ports.js';
import { stopAndDelete } from '../daemon/vm-removal.js';
import { CacheCloneDir } from '../adapters/cache-clone.js';
import { DAEMON_LABEL } from '../launchd/plist.js';
import { lockHolder } from '../daemon/instance-lock.js';
import { loadForCommand } from './config.js';
import { buildAdapters, quietContext } from './wiring.js';
import { println, type CliContext } from './context.js';
import { statePaths } from '../config/paths.js';
import { errorText } from '../core/errors.js';
import { limitConcurrency } from '../core/limit.js';

export interface TeardownOptions {
  config?: string;
  yes?: boolean;
}

/** The prompt's input: a TTY gets asked, anything else is refused without `--yes`. */
export type PromptInput = Readable & { isTTY?: boolean };

/** VMs torn down at once: each is a couple of tart processes; tart serialises on its own lock anyway. */
const VM_CONCURRENCY = 4;

export async function teardownCommand(ctx: CliContext & { stdin?: PromptInput }, opts: TeardownOptions): Promise<number> {
  const { config } = loadForCommand(ctx, opts.config);
  const hostName = config.github.runner_name;
  const label = hostLabel(hostName);
  const quiet = quietContext(ctx);
  const { tart, github } = buildAdapters(quiet, config, { needGuest: false, lenient: true });
  const cacheClones = new CacheCloneDir(statePaths(config.host).cacheClones);

  const [tartSeen, githubSeen] = await Promise.allSettled([tart.list(), github.listRunners()]);
  const problems: string[] = [];
  let vms: TartVm[] = [];
  if (tartSeen.status === 'fulfilled') vms = tartSeen.value.filter((v) => parseVmName(hostName, v.name) !== undefined);
  else problems.push(`tart could not be read, so no VM will be removed: ${errorText(tartSeen.reason)}`);
  let runners: Runner[] = [];
  if (githubSeen.status === 'fulfilled') runners = githubSeen.value.filter((r) => ownedByHost(r, hostName) && parseRunnerName(r.name) !== undefined);
  else problems.push(`GitHub could not be read, so no runner will be removed: ${errorText(githubSeen.reason)}`);
  for (const p of problems) ctx.stderr.write(`! ${p}\n`);

  if (vms.length === 0 && runners.length === 0) {
    println(ctx.stdout, `nothing to remove: no VM named tf-${hostName}-… and no runner labelled ${label}${problems.length ? ' among what could be read' : ''}`);
    return problems.length ? 1 : 0;
  }

  // The daemon of this state dir, if one runs, is named (daemon/instance-lock.ts); one elsewhere
  // with the same runner_name cannot be seen from here, so the general warning stays.
  const holder = lockHolder(config.host.state_dir);
  ctx.stderr.write(
    holder !== undefined
      ? `warning: \`tart-fleet run\` (pid ${holder}, state dir ${config.host.state_dir}) is running and re-creates VMs for jobs still queued at its next tick; stop it first (sudo launchctl bootout system/${DAEMON_LABEL})\n`
      : `warning: no daemon runs on ${config.host.state_dir}; a \`tart-fleet run\` elsewhere with runner_name ${hostName} would re-create VMs for jobs still queued at its next tick: stop it first\n`,
  );
  if (!opts.yes) {
    println(ctx.stdout, `teardown of ${hostName} would remove:`);
    for (const v of vms) println(ctx.stdout, `  VM      ${v.name} (${v.state})`);
    for (const r of runners) println(ctx.stdout, `  runner  ${r.name} (id ${r.id}, ${r.status}${r.busy ? ', busy' : ''})`);
    const stdin = ctx.stdin ?? process.stdin;
    if (!stdin.isTTY) {
      ctx.stderr.write('refusing to remove anything without confirmation: stdin is not a TTY; pass --yes\n');
      return 2;
    }
    const answer = await ask(stdin, ctx.stderr, `remove ${vms.length} VM(s) and ${runners.length} runner(s)? [y/N] `);
    if (!/^(y|yes)$/i.test(answer.trim())) {
      println(ctx.stdout, 'aborted: nothing removed');
      return 1;
    }
  }

  let failures = 0;
  const limit = limitConcurrency(VM_CONCURRENCY);
  await Promise.all(vms.map((vm) => limit(async () => {
    const result = await removeVm(tart, vm, cacheClones);
    if (result.ok) println(ctx.stdout, `removed VM ${vm.name}${result.note ? ` (${result.note})` : ''}`);
    else {
      failures++;
      ctx.stderr.write(`FAILED VM ${vm.name}: ${result.note}\n`);
    }
  })));
  // One at a time: the GitHub adapter paces writes anyway, and the lines stay in order.
  for (const r of runners) {
    try {
      const result = await github.deleteRunner(r.id);
      if (result === 'deleted') println(ctx.stdout, `removed runner ${r.name} (id ${r.id})`);
      else if (result === 'not-found') println(ctx.stdout, `removed runner ${r.name} (id ${r.id}; already gone)`);
      else {
        failures++;
        ctx.stderr.write(`runner ${r.name} (id ${r.id}) is busy with a job: not removed; GitHub frees it when the job ends or times out, then run teardown again\n`);
      }
    } catch (err) {
      failures++;
      ctx.stderr.write(`FAILED runner ${r.name} (id ${r.id}): ${errorText(err)}\n`);
    }
  }

  const removed = vms.length + runners.length - failures;
  println(ctx.stdout, `teardown of ${hostName}: removed ${removed} of ${vms.length + runners.length} (${vms.length} VM(s), ${runners.length} runner(s))${failures ? `; ${failures} not removed` : ''}`);
  return failures > 0 || problems.length > 0 ? 1 : 0;
}

/** The daemon's own removal (vm-removal.ts): same stop timeout, same idempotence, its cache copy too. */
async function removeVm(tart: Tart, vm: TartVm, cacheClones: CacheCloneDir): Promise<{ ok: boolean; note?: string }> {
  try {
    await stopAndDelete(tart, vm.name, { stop: vm.state !== 'stopped', cacheClones });
  } catch (err) {
    return { ok: false, note: errorText(err) };
  }
  return { ok: true, ...(vm.state !== 'stopped' ? { note: `stopped from ${vm.state}` } : {}) };
}

/** One line from `input`; '' on end of input (which the caller reads as "no"). */
function ask(input: Readable, output: NodeJS.WritableStream, question: string): Promise<string> {
  const rl = createInterface({ input, output, terminal: false });
  output.write(question);
  return new Promise((resolve) => {
    let answered = false;
    rl.once('line', (line) => {
      answered = true;
      rl.close();
      resolve(line);
    });
    rl.once('close', () => {
      if (!answered) resolve('');
    });
  });
}
