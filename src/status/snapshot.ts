/**
 * The daemon's status snapshot: one JSON document in `host.state_dir`, rewritten after every tick,
 * that `ls`, `ls --watch`, the demo's live view and monitors read instead of observing the world
 * themselves (zero GitHub requests, and what they show is what the daemon saw, from one moment).
 *
 * Shape: the `ls --json` object (contract.md) plus `written_at`, `tick`, `daemon_pid`, `version`,
 * `poll_seconds`, `last_tick` (ok, failures, degraded), `github` budget and `give_ups`.
 *
 * ## Gotchas
 * - Written atomically (temp file + rename) with mode 0600 (private repositories are named in it):
 *   readers never see half a document; `ls` must run as the daemon's user (or root).
 *   It holds names, ids, numbers and error messages; the messages are run through the redactor too.
 * - Staleness is judged by the reader (`snapshotHealth`): a snapshot cannot say that its writer died.
 *   `stale_after` accounts for the loop's backoff after failed ticks and for slow ticks (at least
 *   10 s past the next tick's start), so a daemon that is alive but backing off or busy reads as
 *   degraded or fine, not as stuck. A daemon that is gone is caught at once by its pid.
 * - `give_ups` comes from the daemon's memory (host-memory.ts): persisted, so it survives restarts.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { Config } from '../config/types.js';
import { packageVersion } from '../config/package.js';
import { fleetView, withConfigLedger, type LsView } from '../core/fleet-view.js';
import type { TickReport } from '../daemon/report.js';
import { writeFileAtomic } from '../adapters/atomic-write.js';
import { statePaths } from '../config/paths.js';
import { admissionView, type AdmissionView } from './admission-view.js';


export interface StatusSnapshot extends Omit<LsView, 'github'>, AdmissionView {
  schema: 1;
  written_at: string;
  /** When the tick observed GitHub and tart: the moment the tables show. */
  observed_at: string;
  /** After this (ISO time) without a newer snapshot, the daemon is not ticking: `ls` exits 3. */
  stale_after: string;
  tick: number;
  daemon_pid: number;
  version: string;
  poll_seconds: number;
  last_tick: {
    ok: boolean;
    /** Everything that went wrong in the tick: failed observations and failed actions. */
    failures: string[];
    /** The failures that are not an unread source (those are `degraded`): failed actions and housekeeping. */
    action_failures: string[];
    /** What could not be read at all (GitHub or tart): nothing was decided on that side. */
    degraded: string[];
    duration_ms: number;
    admitted: number;
    deleted_vms: number;
    deleted_runners: number;
  };
  last_ok_tick_at: string | null;
  github: {
    requests: number;
    not_modified: number;
    rate_limit_remaining: number | null;
    rate_limit_reset: string | null;
    coldest_repo_age_s: number;
    repositories: number;
    unswept_repositories: number;
  } | null;
}

export interface SnapshotInput {
  report: TickReport;
  config: Config;
  now: number;
  pid: number;
  /** IPs of running VMs, by name (the publisher asks tart once per VM). */
  ips?: ReadonlyMap<string, string | null>;
  lastOkAt: number | null;
  /** The loop's delay before the next tick (longer while it backs off). */
  nextTickMs: number;
}

export function buildSnapshot(input: SnapshotInput): StatusSnapshot {
  const { report, config, now } = input;
  const observed = report.world;
  const view = withConfigLedger(fleetView(observed, report.memory, report.plan, config), config);
  for (const vm of view.vms) vm.ip = input.ips?.get(vm.name) ?? null;
  const degraded: string[] = [];
  if (!observed.tart.ok) degraded.push(`tart could not be read: ${observed.tart.error}`);
  if (!observed.github.ok) degraded.push(`GitHub could not be read: ${observed.github.error}`);
  const poll = config.host.poll_seconds;
  // "No tick for 3 poll intervals", widened for a loop backing off (nextTickMs) and for ticks that
  // are slow themselves (a loaded machine, a large org): the next one may take as long again, thrice.
  const staleAfterMs = now + Math.max(3 * poll * 1000, input.nextTickMs + Math.max(2 * poll * 1000, 3 * report.durationMs, 10_000));
  const gh = report.github;
  return {
    schema: 1,
    ...view,
    ...admissionView(observed),
    written_at: new Date(now).toISOString(),
    observed_at: new Date(observed.now).toISOString(),
    stale_after: new Date(staleAfterMs).toISOString(),
    tick: report.tick,
    daemon_pid: input.pid,
    version: packageVersion(),
    poll_seconds: poll,
    last_tick: {
      ok: report.ok,
      failures: report.failures.map((f) => `${f.source}: ${f.message}`),
      action_failures: report.failures.filter((f) => f.source !== 'tart' && f.source !== 'github').map((f) => `${f.source}: ${f.message}`),
      degraded,
      duration_ms: report.durationMs,
      admitted: report.admitted,
      deleted_vms: report.deletedVms,
      deleted_runners: report.deletedRunners,
    },
    last_ok_tick_at: input.lastOkAt === null ? null : new Date(input.lastOkAt).toISOString(),
    github: gh
      ? {
          requests: gh.requests,
          not_modified: gh.notModified,
          rate_limit_remaining: gh.rateLimitRemaining,
          rate_limit_reset: gh.rateLimitReset === null ? null : new Date(gh.rateLimitReset).toISOString(),
          coldest_repo_age_s: gh.coldestRepoAgeSeconds,
          repositories: gh.repositories,
          unswept_repositories: gh.unsweptRepositories,
        }
      : null,
  };
}

export function snapshotPath(stateDir: string): string {
  return statePaths({ state_dir: stateDir }).status;
}

export function writeSnapshot(stateDir: string, snapshot: StatusSnapshot): void {
  writeFileAtomic(snapshotPath(stateDir), `${JSON.stringify(snapshot, null, 2)}\n`);
}

/** The snapshot in `stateDir`, or undefined when there is none; throws (naming the file) when it is not one. */
export function readSnapshot(stateDir: string): StatusSnapshot | undefined {
  const file = snapshotPath(stateDir);
  if (!existsSync(file)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`${file}: not a status snapshot (${(err as Error).message})`, { cause: err });
  }
  const s = parsed as Partial<StatusSnapshot>;
  if (s.schema !== 1 || typeof s.written_at !== 'string' || typeof s.daemon_pid !== 'number' || !s.last_tick) {
    throw new Error(`${file}: not a status snapshot of this version (schema ${String(s.schema)})`);
  }
  return s as StatusSnapshot;
}

export interface SnapshotHealth {
  age_s: number;
  /** Why the snapshot is stale (exit 3), or null. */
  stale: string | null;
  /** Why the last tick was degraded (exit 4); empty when it was not. */
  degraded: string[];
}

/** `isAlive(pid)`: whether the daemon process still exists (`process.kill(pid, 0)` in the CLI). */
export function snapshotHealth(s: StatusSnapshot, now: number, isAlive: (pid: number) => boolean): SnapshotHealth {
  const written = Date.parse(s.written_at);
  const age_s = Math.max(0, Math.round((now - written) / 1000));
  let stale: string | null = null;
  if (!isAlive(s.daemon_pid)) stale = `the daemon that wrote it (pid ${s.daemon_pid}) is not running`;
  else if (now > Date.parse(s.stale_after)) stale = `no tick for ${age_s} s (more than 3 poll intervals of ${s.poll_seconds} s): the daemon (pid ${s.daemon_pid}) is stuck`;
  return { age_s, stale, degraded: [...s.last_tick.degraded] };
}

/** `process.kill(pid, 0)`: true while the process exists (EPERM: it exists, under another user). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
