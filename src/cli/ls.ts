/**
 * `tart-fleet ls`: the fleet at a glance, from the same observe step and planner the daemon uses
 * (read-only: it changes nothing, so it is safe while `run` is running). `--json` prints one object
 * (contract.md); otherwise tables. What could not be read is listed under problems, never guessed.
 */
import Table from 'cli-table3';
import { Reconciler } from '../reconciler.js';
import { fleetView, type FleetView } from '../core/fleet-view.js';
import { ramCeilingMb } from '../config/types.js';
import { loadForCommand } from './config.js';
import { buildAdapters, quietContext } from './wiring.js';
import { println, type CliContext } from './context.js';
import { ramBar } from './render.js';

export async function lsCommand(ctx: CliContext, opts: { config?: string; json?: boolean }): Promise<number> {
  const { config } = loadForCommand(ctx, opts.config);
  const adapters = buildAdapters(quietContext(ctx), config, { needGuest: false, lenient: true });
  const reconciler = new Reconciler({ config, ...adapters });
  const { world, memory } = await reconciler.observe();
  const view = fleetView(world, memory, reconciler.plan(world, memory), config);
  await Promise.all(
    view.vms.map(async (vm) => {
      if (!vm.state.startsWith('running')) return;
      vm.ip = await adapters.tart.ip(vm.name, 0).catch(() => null);
    }),
  );
  // The ceiling and cap come from the config, so they are known even when tart is not.
  const ledger = view.ledger ?? { used_mb: null, ceiling_mb: ramCeilingMb(config.host), vms: null, max_vms: config.host.max_vms, foreign_mb: null };
  const out = { ...view, ledger };
  if (opts.json) {
    println(ctx.stdout, JSON.stringify(out, null, 2));
  } else {
    printTables(ctx, out);
  }
  return 0;
}

type View = Omit<FleetView, 'ledger'> & { ledger: { used_mb: number | null; ceiling_mb: number; vms: number | null; max_vms: number } };

function printTables(ctx: CliContext, view: View): void {
  const { ledger } = view;
  println(ctx.stdout, `tart-fleet on ${view.runner_name}`);
  println(ctx.stdout, `RAM  ${ramBar(ledger.used_mb, ledger.ceiling_mb, 30)}  VMs ${ledger.vms ?? '?'}/${ledger.max_vms}`);
  if (view.github) {
    println(ctx.stdout, `GitHub: ${view.github.requests} requests (${view.github.not_modified} not modified), rate limit left ${view.github.rate_limit_remaining ?? '?'}, coldest repo ${view.github.coldest_repo_age_s} s old`);
  }
  for (const p of view.problems) println(ctx.stdout, `! ${p}`);
  const vms = new Table({ head: ['VM', 'profile', 'state', 'repo', 'job', 'age', 'RAM MB', 'CPU', 'IP', 'runner'], style: { head: [], border: [] } });
  for (const v of view.vms) {
    vms.push([v.name, v.profile, v.state, v.repo ?? '-', String(v.job_id), v.age_s === null ? '?' : `${v.age_s}s`, String(v.ram_mb), String(v.cpu), v.ip ?? '-', v.runner_status ?? '-']);
  }
  println(ctx.stdout, view.vms.length ? vms.toString() : '(no VMs of this host)');
  const queue = new Table({ head: ['repo', 'job', 'profile', 'waiting', 'why'], style: { head: [], border: [] } });
  for (const q of view.queue) queue.push([q.repo, String(q.job_id), q.profile ?? '-', `${q.waiting_s}s`, q.reason]);
  println(ctx.stdout, view.queue.length ? queue.toString() : '(no queued jobs)');
}
