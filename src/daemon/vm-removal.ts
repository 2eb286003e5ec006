/**
 * Stop (if asked) and delete one VM, treating "already stopped" and "already gone" as done:
 * deletion is idempotent, so a retry or a race with the guest powering off is never a failure.
 * Any other tart failure is thrown for the caller to log; the next tick tries again.
 * The VM's private cache copy (`cache: clone`), if any, goes with it.
 */
import { TartError, type Tart } from '../core/ports.js';
import type { CacheCloneDir } from '../adapters/cache-clone.js';

/** tart stop's timeout: `tart stop` is a hard power-off after this (SIGKILL), facts sheet §1.4. */
export const STOP_TIMEOUT_SECONDS = 10;

export async function stopAndDelete(tart: Tart, name: string, opts: { stop: boolean; cacheClones?: Pick<CacheCloneDir, 'removeFor'> }): Promise<void> {
  if (opts.stop) await ignoring(tart.stop(name, STOP_TIMEOUT_SECONDS), ['not-running', 'vm-missing']);
  await ignoring(tart.delete(name), ['vm-missing']);
  await opts.cacheClones?.removeFor(name);
}

/** Resolves when `p` does, or when it fails with one of `kinds`; rethrows anything else. */
export async function ignoring(p: Promise<void>, kinds: string[]): Promise<void> {
  try {
    await p;
  } catch (err) {
    if (err instanceof TartError && kinds.includes(err.kind)) return;
    throw err;
  }
}
