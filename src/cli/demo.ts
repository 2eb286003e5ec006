/**
 * `tart-fleet demo`: the real daemon (the same bin, adapters and scheduler) against the simulated
 * world — a fake GitHub org and a simulated 16 GB Mac with 4 GB reserved — with a realistic mix of
 * jobs for the seed's three profiles, one job no profile matches and one for GitHub-hosted runners.
 * It shows what happens as it happens and ends with a summary, leaving nothing behind.
 *
 * ## Gotchas
 * - Everything the view shows is read from the world (the fake GitHub's records, the fake tart's
 *   event log) or from the real `ls --json`; the demo invents no data.
 * - The daemon's log is kept in the world's temp dir and replayed as plain lines when stdout is not
 *   a TTY; the temp dir is removed at the end even if the demo fails or is interrupted.
 */
import { readFileSync, existsSync } from 'node:fs';
import { SimWorld, parseLogLines, peakUsage, type LsJson } from '../sim/world.js';
import { describeLogLine, renderScreen, progressBar, type DemoProgress } from '../sim/demo-view.js';
import { println, type CliContext } from './context.js';

export interface DemoOptions {
  jobs: number;
  ramGb: number;
  speed: number;
  /** Give up after this many real seconds (default 100). */
  timeoutS?: number;
}

const PROFILE_MIX = ['coder', 'marketer', 'coder', 'developer', 'coder', 'marketer', 'coder', 'developer'] as const;
const REPOS = ['web', 'api', 'docs', 'ios-app'];

export async function demoCommand(ctx: CliContext, opts: DemoOptions): Promise<number> {
  const world = await SimWorld.create({ ramGb: opts.ramGb, speed: opts.speed, runnerName: 'demo-mac' });
  const started = Date.now();
  const tty = Boolean(ctx.stdout.isTTY);
  let interrupted = false;
  const onInt = () => {
    interrupted = true;
  };
  // Ctrl-C, kill, or the terminal closing: stop, then clean up everything in `finally`.
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  for (const s of signals) process.on(s, onInt);
  try {
    const matched = queueMix(world, opts.jobs);
    println(ctx.stdout, `tart-fleet demo: ${opts.jobs} jobs for developer/coder/marketer (+1 no profile matches, +1 GitHub-hosted) on a simulated ${opts.ramGb} GB Mac, 4 GB reserved; time x${opts.speed}`);
    world.startDaemon();
    const events: string[] = [];
    let logOffset = 0;
    let ls: LsJson | undefined;
    let lsBusy = false;
    const deadline = started + (opts.timeoutS ?? 100) * 1000;
    let finished = false;
    while (!interrupted && Date.now() < deadline) {
      if (world.daemon?.exitCode !== null) break;
      const fresh = readNewLines(world.daemonLog, logOffset);
      logOffset = fresh.offset;
      for (const line of fresh.lines) {
        const text = describeLogLine(line);
        if (!text) continue;
        events.push(text);
        if (!tty) println(ctx.stdout, text);
      }
      if (!lsBusy) {
        lsBusy = true;
        void world.ls().then((v) => (ls = v)).catch(() => undefined).finally(() => (lsBusy = false));
      }
      const progress = progressOf(world, matched, opts.jobs, started);
      if (tty) ctx.stdout.write(renderScreen(ls, progress, events, 'tart-fleet demo — the real scheduler on a simulated Mac', ctx.stdout.columns));
      if (progress.done === progress.total && (await ourVmsLeft(world)) === 0) {
        finished = true;
        break;
      }
      await sleep(tty ? 500 : 250);
    }
    const code = await world.stopDaemon();
    printSummary(ctx, world, matched, opts.jobs, started, finished, code);
    if (interrupted) return 130;
    return finished && code === 0 ? 0 : 1;
  } finally {
    for (const s of signals) process.off(s, onInt);
    await world.destroy();
  }
}

/** Queues the mix: half at once, the rest trickling in; returns the ids of jobs a profile matches. */
function queueMix(world: SimWorld, count: number): number[] {
  const ids: number[] = [];
  let seed = 42;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const queueOne = (i: number) => {
    const profile = PROFILE_MIX[i % PROFILE_MIX.length]!;
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

function progressOf(world: SimWorld, matched: number[], total: number, started: number): DemoProgress {
  const jobs = matched.map((id) => world.github.job(id));
  return {
    total,
    // Jobs not queued yet (they trickle in) count as queued: they are still to come.
    queued: jobs.filter((j) => j.status === 'queued').length + (total - matched.length),
    running: jobs.filter((j) => j.status === 'in_progress').length,
    done: jobs.filter((j) => j.status === 'completed').length,
    elapsedS: (Date.now() - started) / 1000,
  };
}

async function ourVmsLeft(world: SimWorld): Promise<number> {
  try {
    return (await world.tartList()).filter((v) => v.Name.startsWith(`tf-${world.opts.runnerName}-`)).length;
  } catch {
    return -1;
  }
}

function printSummary(ctx: CliContext, world: SimWorld, matched: number[], total: number, started: number, finished: boolean, daemonExit: number | null): void {
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
  const progress = progressOf(world, matched, total, started);
  const lines = [
    '',
    finished ? 'demo finished: every job ran in its own VM, and every VM is gone' : 'demo stopped before every job finished',
    `  jobs        ${progressBar(progress)}`,
    `  runners     ${world.github.runners().length} JIT runners created for ${done} jobs done; ignored: 1 job no profile matches, 1 GitHub-hosted job`,
    `  peak RAM    ${ramMb} MB of a ${ceiling} MB ceiling; peak VMs ${vms}, of them macOS ${macosVms} (max 2)`,
    `  queue wait  ${waits.length ? `min ${Math.min(...waits).toFixed(1)} s, mean ${(waits.reduce((a, b) => a + b, 0) / waits.length).toFixed(1)} s, max ${Math.max(...waits).toFixed(1)} s` : 'n/a'}`,
    `  GitHub API  ${world.github.requestCount()} requests`,
    `  daemon      exited ${daemonExit ?? 'by signal'} after SIGTERM; ${((Date.now() - started) / 1000).toFixed(1)} s in all`,
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
