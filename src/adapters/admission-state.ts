/**
 * Whether this Mac takes new jobs: `tart-fleet drain` writes `admission.json` in `host.state_dir`,
 * `tart-fleet resume` removes it, and the daemon reads it at every tick (reconciler.ts observe()).
 * A file, not a signal or a socket: it works whether or not the daemon runs, survives a restart
 * (a daemon started by launchd after an upgrade stays drained until resumed), and needs no port.
 *
 * ## Gotchas
 * - No file means open. A file that exists but cannot be read or parsed means draining (fail
 *   closed: the operator asked for something and we cannot tell what), with the reason saying so.
 * - Written atomically with mode 0600, the state dir created 0700 (contract.md: every persistent
 *   file 0600). It holds a time and the user who drained, nothing secret.
 * - Draining only stops claims. VMs already running, and creations already under way, go on and
 *   are cleaned up as usual; the planner (core/plan.ts) says why each queued job waits.
 */
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import type { Observed } from '../core/model.js';
import { writeFileAtomic } from './atomic-write.js';
import { statePaths } from '../config/paths.js';


export type AdmissionState =
  | { mode: 'open' }
  | {
      mode: 'draining';
      /** When `drain` was run (epoch ms); undefined when the file could not be read. */
      since: number | undefined;
      /** Why, in words, for `ls` and the waiting reason: who drained, or why the file is not understood. */
      note: string;
    };

export function admissionPath(stateDir: string): string {
  return statePaths({ state_dir: stateDir }).admission;
}

interface AdmissionFile {
  admission: 'draining';
  since: string;
  by?: string;
}

export function readAdmission(stateDir: string): AdmissionState {
  const file = admissionPath(stateDir);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { mode: 'open' };
    return { mode: 'draining', since: undefined, note: `${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); \`tart-fleet resume\` removes it` };
  }
  try {
    const parsed = JSON.parse(text) as Partial<AdmissionFile>;
    const since = typeof parsed.since === 'string' ? Date.parse(parsed.since) : Number.NaN;
    if (parsed.admission !== 'draining' || Number.isNaN(since)) throw new Error('not {"admission": "draining", "since": <ISO time>}');
    return { mode: 'draining', since, note: `drained${parsed.by ? ` by ${parsed.by}` : ''} at ${new Date(since).toISOString()}` };
  } catch (err) {
    return { mode: 'draining', since: undefined, note: `${file} is not understood (${(err as Error).message}); \`tart-fleet resume\` removes it` };
  }
}

/** Drains this Mac (idempotent: draining again keeps the first time). Returns the state now in force. */
export function startDraining(stateDir: string, now: number, by: string | undefined): AdmissionState {
  const current = readAdmission(stateDir);
  if (current.mode === 'draining' && current.since !== undefined) return current;
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const body: AdmissionFile = { admission: 'draining', since: new Date(now).toISOString(), ...(by ? { by } : {}) };
  writeFileAtomic(admissionPath(stateDir), `${JSON.stringify(body, null, 2)}\n`, 0o600);
  return readAdmission(stateDir);
}

/** Opens this Mac again. Returns whether it was draining. */
export function resumeAdmission(stateDir: string): boolean {
  const was = readAdmission(stateDir).mode === 'draining';
  rmSync(admissionPath(stateDir), { force: true });
  return was;
}

/** What the daemon's observation carries (core/model.ts `Observed.draining`): undefined while open. */
export function observeDraining(stateDir: string): Observed['draining'] {
  const state = readAdmission(stateDir);
  return state.mode === 'draining' ? { since: state.since, note: state.note } : undefined;
}
