// Shared checks for the end-to-end scenarios: they run the real CLI against the simulated world and
// assert from the world's own records (fake GitHub's job history, the fake tart's event log).
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { SimWorld } from '../../src/sim/world.js';
import { encodeJitConfig } from '../../src/sim/github/broker.js';

/**
 * How contended this machine is when the test file loads: the 1-minute load average per core
 * (`TF_TEST_SLOWDOWN` overrides it). Wall-clock bounds in these tests are multiplied by it, so a
 * loaded CI machine gets more time instead of a red run; a passing wait still returns as soon as
 * its condition holds. Never below 1, capped at 6 (a hang still fails).
 */
export const MACHINE_FACTOR = slowdown();

function slowdown(): number {
  const forced = Number(process.env.TF_TEST_SLOWDOWN);
  if (Number.isFinite(forced) && forced > 0) return forced;
  return Math.min(6, Math.max(1, loadavg()[0]! / availableParallelism()));
}

/** A jest timeout for a test whose waits add up to `ms` on an idle machine. */
export function scaledTimeout(ms: number): number {
  return Math.round(ms * MACHINE_FACTOR);
}

/** A `newWorld(opts)` for a test file: every world it made is destroyed after each test. */
export function worldsDestroyedAfterEach(): (opts: Parameters<typeof SimWorld.create>[0]) => Promise<SimWorld> {
  const worlds: SimWorld[] = [];
  afterEach(async () => {
    await Promise.all(worlds.splice(0).map((w) => w.destroy()));
  });
  return async (opts) => {
    const w = await SimWorld.create(opts);
    worlds.push(w);
    return w;
  };
}

export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 30_000, stepMs = 100): Promise<void> {
  timeoutMs = Math.round(timeoutMs * MACHINE_FACTOR);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms (machine factor ${MACHINE_FACTOR.toFixed(1)}) waiting for: ${what}`);
}

export function jobsDone(world: SimWorld, ids: number[]): boolean {
  return ids.every((id) => world.github.job(id).status === 'completed');
}

export async function ourVms(world: SimWorld): Promise<string[]> {
  return (await world.tartList()).map((v) => v.Name).filter((n) => n.startsWith(`tf-${world.opts.runnerName}-`));
}

/** Each job ran exactly once, on a runner of the profile its labels name. */
export function expectRanOnceOnProfile(world: SimWorld, ids: number[]): void {
  for (const id of ids) {
    const job = world.github.job(id);
    const starts = job.history.filter((h) => h.status === 'in_progress');
    expect({ id, starts: starts.length, status: job.status }).toEqual({ id, starts: 1, status: 'completed' });
    const profile = job.labels.find((l) => l !== 'self-hosted');
    expect(job.runnerName).toMatch(new RegExp(`^tf-${profile}-\\d+(-\\d+)?$`));
  }
}

/** Every secret the world handed out, to look for in logs and argv. */
export function secretsOf(world: SimWorld): string[] {
  const jit = [...world.github.world.runners.values()].flatMap((r) => [r.secret, encodeJitConfig(r, world.apiUrl)]);
  return [world.token, world.sshPassword, ...jit];
}

/** Command lines of every process on this machine right now (Linux /proc). */
export function allCommandLines(): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      out.push(readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' '));
    } catch {
      // the process ended meanwhile
    }
  }
  return out;
}

/**
 * Environments of every running `tart` child (the fake tart is `…/fake-tart.js`): the daemon itself
 * holds its token, but nothing it starts may (#16, "secrets stay home").
 */
export function tartChildEnvironments(): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('fake-tart')) continue;
      // TART_SIM_* are the simulated Mac's own settings (which password its guests accept, say),
      // not something a real tart gets: they are left out, everything else is checked.
      const vars = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter((v) => !v.startsWith('TART_SIM_'));
      out.push(vars.join('\n'));
    } catch {
      // the process ended meanwhile
    }
  }
  return out;
}

export function expectNoSecretsIn(texts: string[], secrets: string[]): void {
  for (const secret of secrets) {
    for (const text of texts) {
      if (text.includes(secret)) throw new Error(`a secret (${secret.slice(0, 4)}…) leaked into: ${text.slice(0, 200)}`);
    }
  }
}
