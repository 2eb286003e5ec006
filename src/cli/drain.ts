/**
 * `tart-fleet drain` and `tart-fleet resume`: take this Mac out of the fleet for maintenance (an
 * upgrade, a reboot, a new golden image) without cutting a job off, then put it back.
 *
 * `drain` writes the drain file (adapters/admission-state.ts); the daemon reads it every tick and
 * claims no new job (core/plan.ts: each queued job's reason says the Mac is draining), while the
 * jobs it runs finish and their VMs go as usual. `drain --wait` then blocks, printing progress,
 * until the daemon's status snapshot shows no VM of this host and no creation under way: the Mac
 * is idle and the daemon can be stopped. `resume` removes the file.
 *
 * Exit codes: 0 done (with `--wait`: idle); 3 `--wait` cannot tell (no status snapshot, or the
 * daemon that wrote it is gone or stuck); 130 interrupted (the drain stays in force).
 *
 * ## Gotchas
 * - The file works whether the daemon runs or not, and a restarted daemon stays drained: resume is
 *   always an explicit step (docs/operations.md has the upgrade procedure).
 * - `--wait` trusts only a snapshot observed after the drain began and showing it: an older one may
 *   predate a claim the daemon made just before it read the file.
 * - While tart could not be read at the last tick, the VMs are unknown: not idle.
 */
import { userInfo } from 'node:os';
import { admissionPath, readAdmission, resumeAdmission, startDraining } from '../adapters/admission-state.js';
import { systemClock } from '../adapters/clock.js';
import { pidAlive, readSnapshot, snapshotHealth, type StatusSnapshot } from '../status/snapshot.js';
import { loadForCommand } from './config.js';
import { println, type CliContext } from './context.js';

export const EXIT_UNKNOWN = 3;
export const EXIT_INTERRUPTED = 130;

export interface DrainOptions {
  config?: string;
  wait?: boolean;
  /** For tests: stop `--wait` without a process signal. */
  signal?: AbortSignal;
}

export async function drainCommand(ctx: CliContext, opts: DrainOptions): Promise<number> {
  const { config } = loadForCommand(ctx, opts.config);
  const stateDir = config.host.state_dir;
  const state = startDraining(stateDir, Date.now(), ctx.env.USER ?? ctx.env.LOGNAME ?? safeUser());
  if (state.mode !== 'draining') throw new Error(`${admissionPath(stateDir)}: written, but it does not read back as draining`);
  println(ctx.stdout, `${config.github.runner_name} is draining (${state.note}): the daemon claims no new job from its next tick; jobs running now finish. \`tart-fleet resume\` ends it.`);
  if (!opts.wait) {
    const progress = drainProgress(safeSnapshot(stateDir), state.since ?? Date.now(), Date.now(), pidAlive, stateDir);
    if (progress.kind === 'unknown' && progress.final) println(ctx.stdout, `note: ${progress.line}`);
    return 0;
  }
  return waitUntilIdle(ctx, stateDir, state.since ?? Date.now(), config.host.poll_seconds, opts.signal);
}

export interface ResumeOptions {
  config?: string;
}

export async function resumeCommand(ctx: CliContext, opts: ResumeOptions): Promise<number> {
  const { config } = loadForCommand(ctx, opts.config);
  const was = resumeAdmission(config.host.state_dir);
  println(ctx.stdout, was
    ? `${config.github.runner_name} takes new jobs again from the daemon's next tick`
    : `${config.github.runner_name} was not draining; nothing to do`);
  return 0;
}

/** What one snapshot says about the drain: idle, still busy (with what), or that it cannot tell. */
export type DrainProgress =
  | { kind: 'idle' }
  | { kind: 'busy'; line: string }
  | { kind: 'unknown'; line: string; final: boolean };

export function drainProgress(snapshot: StatusSnapshot | undefined, drainedAt: number, now: number, isAlive: (pid: number) => boolean, stateDir: string): DrainProgress {
  if (!snapshot) return { kind: 'unknown', line: `no status snapshot in ${stateDir}: is \`tart-fleet run\` running? Nothing is claimed while drained, but when its VMs are gone cannot be told`, final: true };
  const health = snapshotHealth(snapshot, now, isAlive);
  if (health.stale) return { kind: 'unknown', line: `the status snapshot is stale (${health.stale}): when this Mac's VMs are gone cannot be told`, final: true };
  if (snapshot.admission !== 'draining' || Date.parse(snapshot.observed_at) < drainedAt) {
    return { kind: 'unknown', line: 'waiting for the daemon\'s next tick to see the drain', final: false };
  }
  if (snapshot.ledger.used_mb === null) return { kind: 'unknown', line: 'tart could not be read at the last tick: this Mac\'s VMs are unknown', final: false };
  const vms = snapshot.vms.map((v) => `${v.name} (${v.runner_status === 'busy' ? `running job ${v.job_id}${v.repo ? ` of ${v.repo}` : ''}` : v.state})`);
  const creating = snapshot.creating.filter((c) => !snapshot.vms.some((v) => v.name === c.vm));
  if (vms.length === 0 && creating.length === 0) return { kind: 'idle' };
  const parts = [
    ...(vms.length ? [`${vms.length} VM(s) of this host still run: ${vms.join(', ')}`] : []),
    ...(creating.length ? [`${creating.length} creation(s) under way: ${creating.map((c) => c.vm).join(', ')}`] : []),
  ];
  return { kind: 'busy', line: parts.join('; ') };
}

async function waitUntilIdle(ctx: CliContext, stateDir: string, drainedAt: number, pollSeconds: number, signal: AbortSignal | undefined): Promise<number> {
  const stop = new AbortController();
  const onInt = () => stop.abort();
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, onInt);
  signal?.addEventListener('abort', onInt, { once: true });
  let last = '';
  try {
    while (!stop.signal.aborted) {
      if (readAdmission(stateDir).mode !== 'draining') {
        println(ctx.stderr, 'the drain was ended (`tart-fleet resume`) while waiting');
        return 1;
      }
      let snapshot: StatusSnapshot | undefined;
      try {
        snapshot = readSnapshot(stateDir);
      } catch (err) {
        println(ctx.stderr, (err as Error).message);
        return EXIT_UNKNOWN;
      }
      const progress = drainProgress(snapshot, drainedAt, Date.now(), pidAlive, stateDir);
      if (progress.kind === 'idle') {
        println(ctx.stdout, 'idle: no VM of this host runs and none is being created; the daemon can be stopped (it stays drained across a restart)');
        return 0;
      }
      if (progress.kind === 'unknown' && progress.final) {
        println(ctx.stderr, progress.line);
        return EXIT_UNKNOWN;
      }
      if (progress.line !== last) println(ctx.stdout, `waiting: ${progress.line}`);
      last = progress.line;
      await systemClock.sleep(Math.max(1, Math.min(pollSeconds, 5)) * 1000, stop.signal);
    }
  } finally {
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(s, onInt);
  }
  println(ctx.stderr, 'stopped waiting; this Mac stays drained (`tart-fleet resume` ends it)');
  return EXIT_INTERRUPTED;
}

function safeUser(): string | undefined {
  try {
    return userInfo().username;
  } catch {
    return undefined;
  }
}

function safeSnapshot(stateDir: string): StatusSnapshot | undefined {
  try {
    return readSnapshot(stateDir);
  } catch {
    return undefined;
  }
}
