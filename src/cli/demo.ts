/**
 * `tart-fleet demo`: the real daemon (the same bin, adapters and scheduler) against the simulated
 * world — a fake GitHub org and a simulated 16 GB Mac with 4 GB reserved — with a realistic mix of
 * jobs for the seed's three profiles, one job no profile matches and one for GitHub-hosted runners.
 * It shows what happens as it happens and ends with a summary, leaving nothing behind.
 *
 * ## Gotchas
 * - Everything the view shows is read from the world (the fake GitHub's records, the fake tart's
 *   event log) or from the daemon's own status snapshot; the demo invents no data. The snapshot
 *   is the one `tart-fleet ls --watch --state-dir <dir>` reads from another terminal.
 * - It ends when its jobs are done and their VMs are gone. A slow machine is named, not failed;
 *   only a hang is cut off, at a generous hard cap (15 min unless `timeoutS`).
 * - On a TTY the live view uses the terminal's alternate screen (frames do not pile up in the
 *   scrollback) and is left before the summary is printed; otherwise one plain line per event.
 * - The daemon's log and state are kept in the world's temp dir until the demo exits: on a terminal
 *   it waits for Enter after the summary, so a watcher in another terminal (`ls --watch --state-dir`,
 *   hinted on every frame) can still read the last tick. The temp dir is removed at the end even if
 *   the demo fails or is interrupted.
 * - `--ram-gb N` fits the profiles to N (demo-profiles.ts); too little RAM for any is a usage error.
 */
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { SimWorld, parseLogLines, peakUsage } from '../sim/world.js';
import { describeLogLine, renderScreen, progressBar, type DemoProgress } from './demo-view.js';
import { readSnapshot, type StatusSnapshot } from '../status/snapshot.js';
import { ExitError, isTTY, println, type CliContext } from './context.js';
import { DEMO_RESERVED_GB, fitDemoProfiles, minimumDemoRamGb, smallestDemoVmMb } from './demo-profiles.js';
import { ALT_SCREEN_OFF, ALT_SCREEN_ON, CLEAR_HOME } from './render.js';

export interface DemoOptions {
  jobs: number;
  ramGb: number;
  speed: number;
  /** Hard cap against a hang, in real seconds (default 900). */
  timeoutS?: number;
}

const PROFILE_MIX = ['coder', 'marketer', 'coder', 'developer', 'coder', 'marketer', 'coder', 'developer'] as const;
const REPOS = ['web', 'api', 'docs', 'ios-app'];
const HARD_CAP_S = 15 * 60;

export async function demoCommand(ctx: CliContext, opts: DemoOptions): Promise<number> {
  // The profiles fitted to the RAM given (demo-profiles.ts): `--ram-gb 8` is the base Mac mini.
  const profiles = fitDemoProfiles(opts.ramGb);
  if (Object.keys(profiles).length === 0) {
    throw new ExitError(2, [`--ram-gb: ${opts.ramGb} GB leaves ${Math.max(0, opts.ramGb - DEMO_RESERVED_GB)} GB for VMs after ${DEMO_RESERVED_GB} GB reserved for macOS; the demo's smallest VM needs ${smallestDemoVmMb() / 1024} GB: give --ram-gb ${minimumDemoRamGb()} or more`]);
  }
  const world = await SimWorld.create({ ramGb: opts.ramGb, reservedGb: DEMO_RESERVED_GB, speed: opts.speed, runnerName: 'demo-mac', config: { profiles } });
  // The daemon's state dir: the default, `state` beside its log_dir (`<world>/vm-logs`).
  const stateDir = join(world.dir, 'state');
  const started = Date.now();
  const tty = Boolean(ctx.stdout.isTTY);
  let interrupted = false;
  const onInt = () => {
    interrupted = true;
  };
  // Ctrl-C, kill, or the terminal closing: stop, then clean up everything in `finally`.
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  for (const s of signals) process.on(s, onInt);
  let altScreen = false;
  try {
    const matched = queueMix(world, opts.jobs, Object.keys(profiles));
    const expectedS = expectedSeconds(opts.jobs, opts.speed);
    const sizes = Object.entries(profiles).map(([name, p]) => `${name} ${p.ram_mb} MB`).join(', ');
    println(ctx.stdout, `tart-fleet demo: ${opts.jobs} jobs for ${sizes} (+1 no profile matches, +1 GitHub-hosted) on a simulated ${opts.ramGb} GB Mac, ${DEMO_RESERVED_GB} GB reserved; time x${opts.speed}; about ${expectedS} s`);
    // Shown on every frame too (the live view covers the screen), and again at the end.
    const hint = `watch it from another terminal: npx tart-fleet ls --watch --state-dir ${stateDir}  (kept until the demo exits)`;
    println(ctx.stdout, hint);
    world.startDaemon();
    if (tty) {
      ctx.stdout.write(ALT_SCREEN_ON);
      altScreen = true;
    }
    const events: string[] = [];
    let logOffset = 0;
    let snapshot: StatusSnapshot | undefined;
    const hardCapS = opts.timeoutS ?? HARD_CAP_S;
    let finished = false;
    let slowNamed = false;
    while (!interrupted && Date.now() < started + hardCapS * 1000) {
      if (world.daemon?.exitCode !== null) break;
      const fresh = readNewLines(world.daemonLog, logOffset);
      logOffset = fresh.offset;
      for (const entry of fresh.lines) {
        const text = describeLogLine(entry);
        if (!text) continue;
        events.push(text);
        if (!tty) println(ctx.stdout, text);
      }
      snapshot = readSnapshotQuietly(stateDir) ?? snapshot;
      const elapsedS = (Date.now() - started) / 1000;
      // A slow machine (a loaded laptop, a CI box) is named, not failed: the demo waits on.
      const note = elapsedS > 2 * expectedS ? `still running after ${Math.round(elapsedS)} s (about ${expectedS} s expected); this machine is slow` : undefined;
      if (note && !tty && !slowNamed) println(ctx.stdout, note);
      if (note) slowNamed = true;
      if (tty) {
        // Header and tables from one moment: the progress is taken at the snapshot's observation.
        const at = snapshot ? Date.parse(snapshot.observed_at) : Date.now();
        const frame = renderScreen({
          snapshot,
          ...(snapshot ? { snapshotAgeS: Math.max(0, Math.round((Date.now() - Date.parse(snapshot.written_at)) / 1000)) } : {}),
          progress: { ...progressOf(world, matched, opts.jobs, at), elapsedS },
          events,
          title: 'tart-fleet demo — the real scheduler on a simulated Mac',
          hint: `watch: npx tart-fleet ls --watch --state-dir ${stateDir}`,
          ...(note ? { note } : {}),
          columns: ctx.stdout.columns ?? 100,
          rows: (ctx.stdout as { rows?: number }).rows ?? 40,
        });
        ctx.stdout.write(`${CLEAR_HOME}${frame}`);
      }
      const progress = progressOf(world, matched, opts.jobs, Date.now());
      if (progress.done === progress.total && (await ourVmsLeft(world)) === 0) {
        finished = true;
        break;
      }
      await sleep(tty ? 500 : 250);
    }
    if (altScreen) {
      ctx.stdout.write(ALT_SCREEN_OFF);
      altScreen = false;
    }
    const daemonExitedEarly = world.daemon?.exitCode !== null && world.daemon?.exitCode !== undefined;
    const code = await world.stopDaemon();
    if (daemonExitedEarly) {
      // Its last words say why (e.g. a config the demo's flags made impossible).
      const last = world.logLines().slice(-5).map((l) => describeLogLine(l) ?? JSON.stringify(l));
      for (const l of last) println(ctx.stderr, l);
    }
    const why = interrupted ? 'interrupted' : daemonExitedEarly ? `the daemon exited with ${code}` : finished ? undefined : `still not done after the ${hardCapS} s hard cap (a hang?)`;
    printSummary(ctx, world, matched, opts.jobs, started, why, code, daemonExitedEarly);
    if (interrupted) return 130;
    if (tty && isTTY(process.stdin)) {
      // The state stays for a watcher in another terminal until the operator ends the demo (Enter or Ctrl-C).
      println(ctx.stdout, `the demo's state is kept in ${stateDir} until you press Enter (\`ls --state-dir\` shows its last tick); then it is removed`);
      await untilEnterOrSignal(() => interrupted);
    } else {
      println(ctx.stdout, `the demo's state (${stateDir}) is removed as the demo exits`);
    }
    return finished && code === 0 ? 0 : 1;
  } finally {
    if (altScreen) ctx.stdout.write(ALT_SCREEN_OFF);
    for (const s of signals) process.off(s, onInt);
    await world.destroy();
  }
}

/**
 * A rough expectation of the demo's length on an idle machine: jobs run 20-80 simulated seconds
 * (x speed), two at a time, plus boots and polling. Only used to name a slow machine.
 */
function expectedSeconds(jobs: number, speed: number): number {
  return Math.round(20 + (jobs / 2) * ((50 + 20) / speed + 3) + (40 / speed) * Math.max(0, jobs - Math.ceil(jobs / 2)));
}

function readSnapshotQuietly(stateDir: string): StatusSnapshot | undefined {
  try {
    return readSnapshot(stateDir);
  } catch {
    return undefined;
  }
}

/** Queues the mix: half at once, the rest trickling in; returns the ids of jobs a profile matches. */
function queueMix(world: SimWorld, count: number, fitted: string[]): number[] {
  const mix = PROFILE_MIX.filter((p) => fitted.includes(p));
  const ids: number[] = [];
  let seed = 42;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const queueOne = (i: number) => {
    const profile = mix[i % mix.length]!;
    ids.push(world.queue(profile, { repo: REPOS[i % REPOS.length]!, durationS: 20 + Math.round(random() * 60), name: `${profile}-build-${i + 1}` }));
  };
  const firstWave = Math.ceil(count / 2);
  for (let i = 0; i < firstWave; i++) queueOne(i);
  world.queue(['self-hosted', 'gpu'], { repo: 'ml', name: 'needs-a-gpu' });
  world.queue(['ubuntu-latest'], { repo: 'web', name: 'lint (GitHub-hosted)' });
  for (let i = firstWave; i < count; i++) {
    setTimeout(() => queueOne(i), (i - firstWave + 1) * (40_000 / world.opts.speed)).unref();
  }
  // Ids of the trickled jobs are pushed when they are queued; the caller reads `ids` live.
  return ids;
}

/** The demo's jobs as they stood at time `at` (epoch ms), from the fake GitHub's job history. */
function progressOf(world: SimWorld, matched: number[], total: number, at: number): Omit<DemoProgress, 'elapsedS'> {
  const statuses = matched.map((id) => {
    const job = world.github.job(id);
    if (at >= Date.now()) return job.status;
    return job.history.filter((h) => h.at <= at).at(-1)?.status ?? 'queued';
  });
  return {
    total,
    // Jobs not queued yet (they trickle in) count as queued: they are still to come.
    queued: statuses.filter((s) => s === 'queued' || s === 'waiting').length + (total - matched.length),
    running: statuses.filter((s) => s === 'in_progress').length,
    done: statuses.filter((s) => s === 'completed').length,
  };
}

async function ourVmsLeft(world: SimWorld): Promise<number> {
  try {
    return (await world.tartList()).filter((v) => v.Name.startsWith(`tf-${world.opts.runnerName}-`)).length;
  } catch {
    return -1;
  }
}

/** `why`: why the demo stopped before every job finished; undefined when it did finish. */
function printSummary(ctx: CliContext, world: SimWorld, matched: number[], total: number, started: number, why: string | undefined, daemonExit: number | null, exitedEarly: boolean): void {
  const jobs = matched.map((id) => world.github.job(id));
  const waits = jobs
    .map((j) => {
      const queued = j.history.find((h) => h.status === 'queued')?.at;
      const ran = j.history.find((h) => h.status === 'in_progress')?.at;
      return queued !== undefined && ran !== undefined ? (ran - queued) / 1000 : undefined;
    })
    .filter((w): w is number => w !== undefined);
  const { ramMb, vms, macosVms } = peakUsage(world.tartEvents());
  const ceiling = (world.opts.ramGb - world.opts.reservedGb) * 1024;
  const done = jobs.filter((j) => j.status === 'completed').length;
  const progress = { ...progressOf(world, matched, total, Date.now()), elapsedS: (Date.now() - started) / 1000 };
  const lines = [
    '',
    why === undefined ? 'demo finished: every job ran in its own VM, and every VM is gone' : `demo stopped before every job finished: ${why}`,
    `  jobs        ${progressBar(progress)}`,
    `  runners     ${world.github.runners().length} JIT runners created for ${done} jobs done; ignored: 1 job no profile matches, 1 GitHub-hosted job`,
    `  peak RAM    ${ramMb} MB of a ${ceiling} MB ceiling; peak VMs ${vms}, of them macOS ${macosVms} (max 2)`,
    `  queue wait  ${waits.length ? `min ${Math.min(...waits).toFixed(1)} s, mean ${(waits.reduce((a, b) => a + b, 0) / waits.length).toFixed(1)} s, max ${Math.max(...waits).toFixed(1)} s` : 'n/a'}`,
    `  GitHub API  ${world.github.requestCount()} requests`,
    `  daemon      ${exitedEarly ? `exited ${daemonExit} on its own` : daemonExit === null ? 'killed' : `stopped by SIGTERM, exit ${daemonExit}`}; ${progress.elapsedS.toFixed(1)} s in all`,
  ];
  for (const l of lines) println(ctx.stdout, l);
}

function readNewLines(file: string, offset: number): { lines: Array<Record<string, unknown>>; offset: number } {
  if (!existsSync(file)) return { lines: [], offset };
  const text = readFileSync(file, 'utf8');
  const end = text.lastIndexOf('\n') + 1;
  if (end <= offset) return { lines: [], offset };
  return { lines: parseLogLines(text.slice(offset, end)), offset: end };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Resolves when a line is read from stdin (Enter) or `stopped()` turns true (a signal). */
async function untilEnterOrSignal(stopped: () => boolean): Promise<void> {
  const stdin = process.stdin;
  let entered = false;
  const onData = () => {
    entered = true;
  };
  stdin.on('data', onData);
  stdin.resume();
  try {
    while (!entered && !stopped()) await sleep(100);
  } finally {
    stdin.off('data', onData);
    stdin.pause();
  }
}
