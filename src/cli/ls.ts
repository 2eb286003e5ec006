/**
 * `tart-fleet ls`: the fleet at a glance.
 *
 * By default it reads the daemon's status snapshot (`host.state_dir`, or `--state-dir`): zero
 * GitHub requests, and exactly what the daemon saw at its last tick, with how old that is.
 * `--live` observes by itself with the daemon's observe step and planner (read-only: safe while
 * `run` runs, but a GitHub sweep per call). `--watch` redraws every poll interval until Ctrl-C.
 * `--json` prints one object (contract.md's shape; from a snapshot, the snapshot plus `age_s`).
 *
 * Exit codes: 0 ok; 3 no snapshot, or a stale one (no tick for 3 poll intervals, or its daemon is
 * gone); 4 the last tick (or the live observation) could not read GitHub or tart. The why is
 * printed (on stderr with `--json`, so stdout stays one JSON document).
 *
 * ## Gotchas
 * - A side that could not be read is "unknown", never "nothing there": no "(no queued jobs)" when
 *   GitHub was not read.
 * - `--watch --live` keeps one reconciler, so its ETag cache makes later sweeps cheap.
 */
import { systemClock } from '../adapters/clock.js';
import { fleetView, withConfigLedger, type LsView } from '../core/fleet-view.js';
import { pidAlive, readSnapshot, snapshotHealth, snapshotPath, type StatusSnapshot } from '../status/snapshot.js';
import { loadForCommand } from './config.js';
import { packageVersion } from '../config/package.js';
import { buildAdapters, buildObservation, quietContext } from './wiring.js';
import { ExitError, println, type CliContext } from './context.js';
import { historyCommand } from './history.js';
import { fleetCommand } from './fleet.js';
import { admissionLines, admissionView } from '../status/admission-view.js';
import { readBootProof } from '../daemon/boot-proof.js';
import { renderBootProof } from './boot-proof-view.js';
import { ALT_SCREEN_OFF, ALT_SCREEN_ON, CLEAR_HOME, renderLsTables, terminalSafe } from './render.js';

export const EXIT_STALE = 3;
export const EXIT_DEGRADED = 4;

export interface LsOptions {
  config?: string;
  json?: boolean;
  live?: boolean;
  watch?: boolean;
  /** Read the snapshot from this directory instead of the config's `host.state_dir` (e.g. the demo's). */
  stateDir?: string;
  /** The jobs that ended on this Mac (cli/history.ts) instead of the fleet. */
  history?: boolean;
  /** Every Mac of the org from GitHub's runner list (cli/fleet.ts). */
  fleet?: boolean;
  /** For tests: stop `--watch` without a process signal. */
  signal?: AbortSignal;
}

/** One frame: what to print, where, and the exit code it stands for. */
interface Frame {
  stdout: string[];
  stderr: string[];
  code: number;
  pollSeconds: number;
}

export async function lsCommand(ctx: CliContext, opts: LsOptions): Promise<number> {
  if (opts.fleet) {
    if (opts.live || opts.watch || opts.history) throw new ExitError(2, ["--fleet: reads GitHub's runner list; it takes none of --live, --watch, --history"]);
    return fleetCommand(ctx, opts);
  }
  if (opts.history) {
    if (opts.live || opts.watch) throw new ExitError(2, ['--history: reads the job history file; it takes neither --live nor --watch']);
    const config = opts.stateDir === undefined ? loadForCommand(ctx, opts.config).config : undefined;
    return historyCommand(ctx, opts.stateDir ?? config!.host.state_dir, config?.github.runner_name, Boolean(opts.json));
  }
  const frameOf = safeFrames(opts.live ? liveFrames(ctx, opts) : snapshotFrames(ctx, opts));
  if (!opts.watch) {
    const frame = await frameOf();
    for (const l of frame.stderr) println(ctx.stderr, l);
    for (const l of frame.stdout) println(ctx.stdout, l);
    return frame.code;
  }
  return watch(ctx, opts, frameOf);
}

/** Every line of a frame through terminalSafe: names in it come from GitHub (render.ts). */
function safeFrames(frameOf: () => Promise<Frame>): () => Promise<Frame> {
  return async () => {
    const f = await frameOf();
    return { ...f, stdout: f.stdout.map((l) => terminalSafe(l)), stderr: f.stderr.map((l) => terminalSafe(l)) };
  };
}

async function watch(ctx: CliContext, opts: LsOptions, frameOf: () => Promise<Frame>): Promise<number> {
  const tty = Boolean(ctx.stdout.isTTY) && !opts.json;
  const stop = new AbortController();
  const onInt = () => stop.abort();
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, onInt);
  opts.signal?.addEventListener('abort', onInt, { once: true });
  if (tty) ctx.stdout.write(ALT_SCREEN_ON);
  let code = 0;
  try {
    while (!stop.signal.aborted) {
      const frame = await frameOf();
      code = frame.code;
      const lines = [...frame.stderr, ...frame.stdout, '', `every ${frame.pollSeconds} s; Ctrl-C to stop`];
      if (tty) ctx.stdout.write(`${CLEAR_HOME}${lines.join('\n')}\n`);
      else ctx.stdout.write(`${lines.join('\n')}\n\n`);
      await systemClock.sleep(Math.max(1, frame.pollSeconds) * 1000, stop.signal);
    }
  } finally {
    if (tty) ctx.stdout.write(ALT_SCREEN_OFF);
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(s, onInt);
  }
  // Stopped by the user: the last frame's health is the answer a script wants.
  return code;
}

function snapshotFrames(ctx: CliContext, opts: LsOptions): () => Promise<Frame> {
  const { stateDir, pollSeconds } = opts.stateDir !== undefined
    ? { stateDir: opts.stateDir, pollSeconds: undefined }
    : (() => {
        const { config } = loadForCommand(ctx, opts.config);
        return { stateDir: config.host.state_dir, pollSeconds: config.host.poll_seconds };
      })();
  return async () => {
    let snapshot: StatusSnapshot | undefined;
    try {
      snapshot = readSnapshot(stateDir);
    } catch (err) {
      return { stdout: [], stderr: [(err as Error).message], code: EXIT_STALE, pollSeconds: pollSeconds ?? 2 };
    }
    if (!snapshot) {
      return {
        stdout: [],
        stderr: [`no status snapshot in ${stateDir}: is \`tart-fleet run\` running? use --live to observe without it`],
        code: EXIT_STALE,
        pollSeconds: pollSeconds ?? 2,
      };
    }
    const health = snapshotHealth(snapshot, Date.now(), pidAlive);
    const code = health.stale ? EXIT_STALE : health.degraded.length ? EXIT_DEGRADED : 0;
    const warnings = [
      ...(health.stale ? [`stale status snapshot (${snapshotPath(stateDir)}): ${health.stale}`] : []),
      ...health.degraded.map((d) => `degraded: ${d}`),
    ];
    const proof = readBootProof(stateDir);
    if (opts.json) {
      return {
        stdout: [JSON.stringify({ ...snapshot, age_s: health.age_s, stale: health.stale, boot_proof: proof ?? null }, null, 2)],
        stderr: warnings,
        code,
        pollSeconds: snapshot.poll_seconds,
      };
    }
    const header = `tart-fleet on ${snapshot.runner_name}: daemon pid ${snapshot.daemon_pid}, tick ${snapshot.tick}, ${health.age_s} s ago (${snapshot.written_at}), version ${snapshot.version}`;
    const failures = snapshot.last_tick.ok ? [] : (snapshot.last_tick.action_failures ?? []).map((f) => `! last tick: ${f}`);
    const giveUps = snapshot.give_ups.length ? [`gave up on ${snapshot.give_ups.length} job(s): ${snapshot.give_ups.map((g) => `${g.repo ?? '?'}#${g.job_id}`).join(', ')}`] : [];
    return {
      stdout: [header, ...admissionLines(snapshot), ...versionSkew(snapshot.version), ...warnings.map((w) => `! ${w}`), ...failures, ...renderBootProof(proof), ...renderLsTables(snapshot, ctx.stdout.columns, health.age_s), ...giveUps],
      stderr: [],
      code,
      pollSeconds: snapshot.poll_seconds,
    };
  };
}

function liveFrames(ctx: CliContext, opts: LsOptions): () => Promise<Frame> {
  const { config } = loadForCommand(ctx, opts.config);
  // From the daemon's sweep state when there is one: at 1,000 repositories a cold sweep would see a
  // minute's budget worth of them only.
  const adapters = buildAdapters(quietContext(ctx), config, { needGuest: false, lenient: true, sweepState: 'read' });
  const observe = buildObservation(config, adapters);
  return async () => {
    const { world: observed, memory, plan } = await observe();
    const view: LsView & ReturnType<typeof admissionView> & { version: string } = { ...withConfigLedger(fleetView(observed, memory, plan, config), config), ...admissionView(observed), version: packageVersion() };
    await Promise.all(
      view.vms.map(async (vm) => {
        if (vm.state !== 'running') return;
        vm.ip = await adapters.tart.ip(vm.name, 0).catch(() => null);
      }),
    );
    const code = observed.github.ok && observed.tart.ok ? 0 : EXIT_DEGRADED;
    const pollSeconds = config.host.poll_seconds;
    if (opts.json) return { stdout: [JSON.stringify(view, null, 2)], stderr: view.problems, code, pollSeconds };
    return { stdout: [`tart-fleet on ${view.runner_name} (live), version ${view.version}`, ...admissionLines(view), ...renderLsTables(view, ctx.stdout.columns)], stderr: [], code, pollSeconds };
  };
}

/** After an upgrade without a restart, the daemon still runs the old code: say so. */
function versionSkew(daemonVersion: string | undefined): string[] {
  const installed = packageVersion();
  return daemonVersion && daemonVersion !== installed ? [`! the daemon runs version ${daemonVersion}, ${installed} is installed: restart it to run the new one`] : [];
}
