/**
 * Disk usage of a file tree, as `du` counts it, for `tart-fleet disk` and `cache prune`; plus the
 * human rendering of byte counts.
 *
 * ## Gotchas
 * - Symlinks are counted as the link itself and never followed: a link in the cache dir may point
 *   anywhere on the Mac, and what it points at is not ours to count (or to delete).
 * - `bytes` is what is allocated on disk (`st_blocks × 512`), which is what deleting frees: a tart
 *   `disk.img` is a sparse file whose apparent size (`apparentBytes`) is the whole virtual disk.
 * - Hard links are counted once per walk (by device and inode).
 * - APFS clones share blocks with their source until they diverge, and `st_blocks` cannot tell: a
 *   fresh clone of a 30 GB golden image counts as 30 GB here though it costs almost nothing yet.
 *   Sums over VMs are therefore an upper bound of what deleting them would free.
 * - Unreadable entries (permissions, a file deleted mid-walk) are counted in `errors`, never thrown:
 *   a usage report should show what it could read and say that it missed some.
 */
import { lstat, readdir } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join } from 'node:path';

export interface Usage {
  /** False when the path does not exist (then every count is 0). */
  exists: boolean;
  /** Allocated on disk. */
  bytes: number;
  /** Sum of file sizes (sparse files count in full). */
  apparentBytes: number;
  files: number;
  dirs: number;
  /** Entries that could not be read. */
  errors: number;
}

/** Allocated bytes of one entry: what removing it frees (falls back to its size without st_blocks). */
export function allocatedBytes(st: Stats): number {
  return typeof st.blocks === 'number' && Number.isFinite(st.blocks) ? st.blocks * 512 : st.size;
}

export async function diskUsage(path: string): Promise<Usage> {
  const usage: Usage = { exists: false, bytes: 0, apparentBytes: 0, files: 0, dirs: 0, errors: 0 };
  let st: Stats;
  try {
    st = await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') usage.errors++;
    return usage;
  }
  usage.exists = true;
  await walk(path, st, usage, new Set());
  return usage;
}

async function walk(path: string, st: Stats, usage: Usage, seen: Set<string>): Promise<void> {
  const key = `${st.dev}:${st.ino}`;
  if (st.nlink > 1 && !st.isDirectory()) {
    if (seen.has(key)) return;
    seen.add(key);
  }
  usage.bytes += allocatedBytes(st);
  usage.apparentBytes += st.size;
  if (!st.isDirectory()) {
    usage.files++;
    return;
  }
  usage.dirs++;
  let names: string[];
  try {
    names = await readdir(path);
  } catch {
    usage.errors++;
    return;
  }
  for (const name of names) {
    const child = join(path, name);
    let cst: Stats;
    try {
      cst = await lstat(child);
    } catch {
      usage.errors++;
      continue;
    }
    await walk(child, cst, usage, seen);
  }
}

/** `1.5 GB`, `512 B`: decimal units, as Finder and `tart list` count. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}
