/**
 * The per-VM run logs in `host.log_dir` (`<vm>.log`, what `tart run` printed): removed once their VM
 * has been gone for `host.vm_log_retention_hours`, so a busy Mac's log dir does not grow forever.
 *
 * ## Gotchas
 * - Only logs whose name parses as one of this host's VMs are considered (`tf-<host>-…`); anything
 *   else in the directory is never touched.
 * - A log's age is its mtime: `tart run` appends until the VM stops, so that is when the VM ended.
 * - The caller passes the VMs that still exist (and are being created) from an observation that
 *   succeeded: a log is never removed on a guess.
 */
import { readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { parseVmName } from '../core/names.js';
import { runLogVm } from '../config/paths.js';

export class RunLogs {
  constructor(private readonly dir: string, private readonly hostName: string) {}

  /** Removes the logs of VMs not in `existing` whose last write is older than `maxAgeMs`; returns their names. */
  async removeStale(existing: ReadonlySet<string>, maxAgeMs: number, now: number): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const removed: string[] = [];
    for (const file of names) {
      const vm = runLogVm(file);
      if (vm === undefined || !parseVmName(this.hostName, vm) || existing.has(vm)) continue;
      const path = join(this.dir, file);
      try {
        const st = await stat(path);
        if (!st.isFile() || now - st.mtimeMs <= maxAgeMs) continue;
        await unlink(path);
        removed.push(vm);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    return removed;
  }
}
