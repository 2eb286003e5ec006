/**
 * Every file and directory the daemon keeps under `host.state_dir` and `host.log_dir`, spelled in
 * one place. Commands that read the daemon's files (`ls`, `teardown`, `logs`) and the daemon that
 * writes them take their names from here, so a rename cannot leave a reader looking at nothing.
 *
 * ## Gotchas
 * - `host.metrics_file` is a config key with its own default (config/load.ts puts it in state_dir
 *   as `METRICS_FILE_NAME`); use the config value, not this name, to find it.
 * - Run logs are named after their VM (`<vm>.log`); `runLogVm` is the inverse, undefined for any
 *   other file in log_dir.
 */
import { join } from 'node:path';

export const METRICS_FILE_NAME = 'tart-fleet.prom';
const RUN_LOG_SUFFIX = '.log';

export interface StatePaths {
  /** The status snapshot `ls` reads (status/snapshot.ts). */
  status: string;
  /** Failure counts and give-ups that survive a restart (daemon/host-memory.ts). */
  memory: string;
  /** The GitHub sweep's ETags and per-repository schedule (adapters/github-sweep-state.ts). */
  githubSweep: string;
  /** Per-job copies of a cache dir for profiles with `cache: clone` (adapters/cache-clone.ts). */
  cacheClones: string;
  /** Present while this Mac is drained (`tart-fleet drain`, adapters/admission-state.ts). */
  admission: string;
  /** The last jobs that ended here (adapters/history-file.ts). */
  history: string;
  /** The boot proof's verdicts (daemon/boot-proof.ts), and a `selftest --as-daemon` request for a new one. */
  bootProof: string;
  bootProofRequest: string;
  /** One daemon per state dir: the pid of the one running (daemon/instance-lock.ts). */
  lock: string;
}

export function statePaths(host: { state_dir: string }): StatePaths {
  const dir = host.state_dir;
  return {
    status: join(dir, 'status.json'),
    memory: join(dir, 'memory.json'),
    githubSweep: join(dir, 'github-sweep.json'),
    cacheClones: join(dir, 'cache-clones'),
    admission: join(dir, 'admission.json'),
    history: join(dir, 'history.jsonl'),
    bootProof: join(dir, 'boot-proof.json'),
    bootProofRequest: join(dir, 'boot-proof.request'),
    lock: join(dir, 'daemon.pid'),
  };
}

/** What `tart run` of this VM printed (its run log). */
export function runLogFile(host: { log_dir: string }, vmName: string): string {
  return join(host.log_dir, `${vmName}${RUN_LOG_SUFFIX}`);
}

/** The VM a file name in log_dir is the run log of, or undefined when it is not a run log. */
export function runLogVm(fileName: string): string | undefined {
  return fileName.endsWith(RUN_LOG_SUFFIX) ? fileName.slice(0, -RUN_LOG_SUFFIX.length) : undefined;
}
