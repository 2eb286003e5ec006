/**
 * The DiskSpace port over statfs(2): free bytes on the volume that holds the VMs ($TART_HOME), which
 * on a Mac is where every clone's copy-on-write blocks land as its job writes.
 *
 * ## Gotchas
 * - `bavail` (blocks an unprivileged user may use), not `bfree`: the daemon runs as that user.
 * - TART_HOME may not exist yet on a fresh host; its nearest existing parent is on the same volume
 *   as tart will use, so that is measured instead.
 */
import { statfs } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import type { DiskSpace } from '../core/ports.js';

export class StatfsDiskSpace implements DiskSpace {
  constructor(private readonly path: string) {}

  async freeBytes(): Promise<number> {
    let at = this.path;
    while (!existsSync(at) && dirname(at) !== at) at = dirname(at);
    const s = await statfs(at);
    return s.bavail * s.bsize;
  }
}
