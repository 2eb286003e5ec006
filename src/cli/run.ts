/**
 * `tart-fleet run`: the daemon. Builds the real adapters, then ticks until SIGTERM/SIGINT (the tick
 * in flight finishes; exit 0; VMs keep running and the next start adopts them).
 * `--once`: one tick, waits for the creations it started, exit 0 if the tick completed, else 1.
 * `--dry-run`: observe and print the plan as JSON; change nothing anywhere (no snapshot either).
 * After every tick (and `--once`'s) the status snapshot and metrics are published (src/status/).
 *
 * ## Gotchas
 * - Run it as `node …/bin/tart-fleet.js run` under launchd, not through npx: npx does not forward
 *   SIGTERM (facts sheet §13). If our parent dies (ppid becomes 1), we stop as if signalled.
 * - One daemon per state dir: `run` and `run --once` take `<state_dir>/daemon.pid` first; a second
 *   one exits 1 naming the first's pid (daemon/instance-lock.ts). `--dry-run` takes no lock.
 */
import { resolve } from 'node:path';
import { assertIsolatedOnDisk } from '../config/isolation.js';
import { ensurePrivateDir } from '../adapters/private-dir.js';
import { runLoop } from '../daemon/loop.js';
import { startBootProof } from '../daemon/boot-proof.js';
import { Wake, runFeedLoop } from '../daemon/feed-loop.js';
import { StatusPublisher } from '../status/publisher.js';
import { loadForCommand } from './config.js';
import { packageVersion } from '../config/package.js';
import { buildAdapters, buildDaemon, buildObservation } from './wiring.js';
import { ExitError, println, type CliContext } from './context.js';
import { acquireInstanceLock, InstanceLockedError, type InstanceLock } from '../daemon/instance-lock.js';
import type { TickReport } from '../daemon/report.js';

export interface RunOptions {
  config?: string;
  once?: boolean;
  dryRun?: boolean;
  /** Also log to this file, rotated by size (the LaunchDaemon's log: launchd's own stdout file is never rotated). */
  logFile?: string;
  /** For tests: stop the daemon without a process signal. */
  signal?: AbortSignal;
}

export async function runCommand(ctx: CliContext, opts: RunOptions): Promise<number> {
  const { config, warnings } = loadForCommand(ctx, opts.config);
  // Cache shares judged on the real file system (symlinks, inodes): refuse before anything starts.
  assertIsolatedOnDisk(config, ctx.env);
  // The state the adapters read back (sweep URLs, give-ups) must be ours alone: 0700, our uid.
  if (!opts.dryRun) ensurePrivateDir(config.host.state_dir, 'host.state_dir');
  // One daemon per state dir (instance-lock.ts): a second one ends here, naming the first.
  const lock = opts.dryRun ? undefined : takeInstanceLock(config.host.state_dir);
  // A dry run prints its plan as JSON on stdout, so its log lines go to stderr.
  const logged = opts.logFile && !opts.dryRun ? { ...ctx, logFile: resolve(ctx.cwd, opts.logFile) } : ctx;
  const adapters = buildAdapters(opts.dryRun ? { ...ctx, stdout: ctx.stderr } : logged, config, { needGuest: !opts.dryRun, ...(opts.dryRun ? {} : { sweepState: 'persist' as const }) });
  const { logger } = adapters;
  for (const w of warnings) logger.warn(w);
  // The boot proof (daemon/boot-proof.ts) runs in this process, so in the daemon's own context.
  const proof = opts.dryRun ? undefined : startBootProof(config, adapters);
  if (opts.dryRun) {
    const { world, plan } = await buildObservation(config, adapters)();
    const actions = plan.actions.map((a) => (a.kind === 'create' ? { kind: a.kind, vm: a.vmName, runner: a.runnerName, repo: a.job.repo, job_id: a.job.id, reason: a.reason } : a));
    println(ctx.stdout, JSON.stringify({ dry_run: true, actions, ledger: plan.ledger, queue: world.github.ok ? plan.queue : null, blocked: plan.blocked }, null, 2));
    return world.tart.ok && world.github.ok ? 0 : 1;
  }

  const reconciler = buildDaemon(config, adapters, proof ? { bootProof: () => proof.view() } : {});
  logger.info('tart-fleet starting', { org: config.github.org, runner_name: config.github.runner_name, config: config.source, profiles: Object.keys(config.profiles), poll_seconds: config.host.poll_seconds, state_dir: config.host.state_dir, version: packageVersion() });
  const publisher = new StatusPublisher({ config, ...adapters });
  await publisher.start();
  const publish = async (report: TickReport, nextTickMs: number) => {
    await publisher.publish(report, nextTickMs);
  };
  if (opts.once) {
    try {
      await proof?.drain();
      const report = await reconciler.tick();
      await publish(report, config.host.poll_seconds * 1000);
      await reconciler.drain();
      return report.ok ? 0 : 1;
    } finally {
      proof?.stop();
      await publisher.close();
      lock?.release();
    }
  }

  const stop = new AbortController();
  const onSignal = (signal: string) => () => {
    logger.info('signal received; finishing the tick in flight', { signal });
    stop.abort();
  };
  // SIGHUP too: a terminal closing under `tart-fleet run` should stop it as cleanly as SIGTERM.
  const handlers = (['SIGTERM', 'SIGINT', 'SIGHUP'] as const).map((s) => [s, onSignal(s)] as const);
  for (const [s, h] of handlers) process.on(s, h);
  opts.signal?.addEventListener('abort', () => stop.abort(), { once: true });
  // Started by a shell or npx (not by launchd, whose pid is 1): stop when that parent is gone.
  const parentAtStart = process.ppid;
  const orphanWatch = setInterval(() => {
    if (parentAtStart !== 1 && process.ppid !== parentAtStart && !stop.signal.aborted) onSignal('parent exited')();
  }, 5000);
  orphanWatch.unref();
  // The event feed (docs/event-feed.md), when configured: its own short loop, waking the tick loop.
  const wake = new Wake();
  const pollFeed = adapters.github.pollFeed?.bind(adapters.github);
  const feedLoop = pollFeed && (config.github.hook_id !== undefined || config.github.app_hook)
    ? runFeedLoop({ poll: pollFeed, wake, clock: adapters.clock, logger, signal: stop.signal })
    : undefined;
  try {
    await runLoop({ tick: () => reconciler.tick(), onTick: publish, pollSeconds: config.host.poll_seconds, clock: adapters.clock, logger, signal: stop.signal, wake });
  } finally {
    proof?.stop();
    stop.abort();
    await feedLoop;
    clearInterval(orphanWatch);
    await publisher.close();
    lock?.release();
    for (const [s, h] of handlers) process.off(s, h);
  }
  return 0;
}

/** The state dir's lock, released when this process exits however it exits; a second daemon exits 1. */
function takeInstanceLock(stateDir: string): InstanceLock {
  try {
    const lock = acquireInstanceLock(stateDir);
    process.once('exit', lock.release);
    return lock;
  } catch (err) {
    if (err instanceof InstanceLockedError) throw new ExitError(1, [err.message]);
    throw err;
  }
}
