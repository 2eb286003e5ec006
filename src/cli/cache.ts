/**
 * `tart-fleet cache prune`: keeps a cache dir (the directory shared into VMs as `cache`: toolchains,
 * package caches) small. Two criteria, either or both:
 * - `--older-than 7d`: removes what has not changed for that long. Bottom-up: old files first, then
 *   directories left empty whose own mtime is old too.
 * - `--max-gb N`: removes the least recently used files first (the later of a file's mtime and
 *   atime) until the cache takes at most N GB (decimal, allocated bytes), then directories this
 *   emptied. The daemon runs this, as a child process, to enforce `host.cache_max_gb`.
 * `--dir PATH` prunes PATH instead of the config's `host.cache_dir` (then no config is read).
 * `--dry-run` prints what it would remove and frees nothing. One line per entry, then a summary;
 * `--json`: one JSON object (what the daemon reads: the size before and after, what was freed).
 *
 * ## Gotchas
 * - Symlinks are never followed: a link is an entry of its own (removed when old, by unlink), and
 *   what it points at is never read or removed. Guests write to this share, so a job could plant a
 *   link to anywhere on the Mac. Directories are only ever removed with rmdir (empty ones), files
 *   and links with unlink: there is no recursive delete that could cross into another tree.
 * - Guests write to the share while this runs and can race it: swap a directory for a symlink to
 *   `/` between our lstat and our unlink. So the walk never resolves a path through a directory it
 *   has not verified: it `chdir`s into each directory, checks that the working directory is the very
 *   inode it lstat'ed (device and inode), and then removes entries by their bare names, which the
 *   kernel resolves from that working directory, not from a path a guest can swap. A directory that
 *   changed identity is skipped and reported; the walk climbs back with `..` and checks again, and
 *   stops if even that fails. The working directory is restored at the end. Because of `chdir`
 *   this runs only in a short-lived process of its own: the daemon spawns the CLI, never calls it.
 * - `--max-gb` measures first and removes afterwards. To remove, it walks down again from the cache
 *   dir, one verified directory at a time (the device and inode of every directory on the way, as
 *   measured), and removes a file only if it is still the inode it measured: a file or directory
 *   replaced in between is kept and reported, never followed.
 * - A directory's mtime is read before its children are pruned (removing them bumps it). With
 *   `--older-than` a directory is removed only when everything in it went and it was old itself: a
 *   young empty directory was made or changed recently, so something may still use it.
 * - The cache dir itself is never removed, and `/` or the home directory are refused outright.
 * - Sizes are allocated bytes (du.ts): what the removal frees; a file with several hard links is
 *   counted once. VMs may be using the share while this runs; an old file a running job still reads
 *   stays readable to it until it closes it (the daemon prunes only when no VM mounts the dir).
 */
import { lstat, readdir, realpath, rmdir, unlink } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { homedir } from 'node:os';
import { join, relative, resolve, sep } from 'node:path';
import { loadForCommand } from './config.js';
import { ExitError, println, type CliContext } from './context.js';
import { allocatedBytes, formatBytes } from './du.js';
import type { CachePruneReport } from '../core/ports.js';

export interface CachePruneOptions {
  config?: string;
  olderThan?: string;
  /** Prune least recently used files until the cache takes at most this many GB. */
  maxGb?: string;
  /** Prune this directory instead of host.cache_dir (no config is read then). */
  dir?: string;
  dryRun?: boolean;
  json?: boolean;
  /** For tests: the current time (epoch ms). */
  now?: number;
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `7d`, `12h`, `30m`, `45s`, `2w` (fractions allowed: `1.5d`) → milliseconds; undefined if malformed. */
export function parseAge(value: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)([smhdw])$/.exec(value.trim());
  if (!m) return undefined;
  const ms = Number(m[1]) * UNIT_MS[m[2]!]!;
  return Number.isFinite(ms) && ms > 0 ? ms : undefined;
}

interface Pruned {
  path: string;
  dir: boolean;
  bytes: number;
}

interface Walk {
  root: string;
  cutoff: number;
  dryRun: boolean;
  removed: Pruned[];
  failed: Array<{ path: string; message: string }>;
}

export async function cachePruneCommand(ctx: CliContext, opts: CachePruneOptions): Promise<number> {
  if (opts.olderThan === undefined && opts.maxGb === undefined) {
    throw new ExitError(2, ['cache prune: give --older-than AGE, --max-gb N, or both']);
  }
  const ageMs = opts.olderThan === undefined ? undefined : parseAge(opts.olderThan);
  if (opts.olderThan !== undefined && ageMs === undefined) throw new ExitError(2, [`--older-than: must be a positive age like 7d, 12h or 30m (got ${JSON.stringify(opts.olderThan)})`]);
  const maxBytes = opts.maxGb === undefined ? undefined : parseGb(opts.maxGb);
  if (opts.maxGb !== undefined && maxBytes === undefined) throw new ExitError(2, [`--max-gb: must be a number of GB >= 0, like 50 or 7.5 (got ${JSON.stringify(opts.maxGb)})`]);
  const field = opts.dir === undefined ? 'host.cache_dir' : '--dir';
  const configured = opts.dir === undefined ? loadForCommand(ctx, opts.config).config.host.cache_dir : resolve(ctx.cwd, opts.dir);

  let root: string;
  let rootStat: Stats;
  try {
    // The cache dir itself may be a link the operator made (to another volume): that one we follow.
    root = await realpath(configured);
    rootStat = await lstat(root);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      if (opts.json) println(ctx.stdout, JSON.stringify(emptyReport(configured, Boolean(opts.dryRun), maxBytes !== undefined)));
      else println(ctx.stdout, `nothing to prune: ${configured} does not exist`);
      return 0;
    }
    throw new ExitError(1, [`${field}: cannot read ${configured}: ${(err as Error).message}`]);
  }
  if (!rootStat.isDirectory()) throw new ExitError(2, [`${field}: ${configured} is not a directory`]);
  if (root === sep || root === (await realpath(homedir()).catch(() => homedir()))) {
    throw new ExitError(2, [`${field}: refusing to prune ${root} (it is not a cache dir of its own)`]);
  }

  const walk: Walk = { root, cutoff: (opts.now ?? Date.now()) - (ageMs ?? 0), dryRun: Boolean(opts.dryRun), removed: [], failed: [] };
  let sizes: { before: number; after: number } | undefined;
  const cwd = process.cwd();
  try {
    process.chdir(root);
    if (!sameInode(await lstat('.'), rootStat)) throw new ExitError(1, [`${field}: ${root} changed while it was opened; nothing pruned`]);
    if (ageMs !== undefined) await pruneHere(root, rootStat, walk);
    if (maxBytes !== undefined) sizes = await pruneToSize(rootStat, maxBytes, walk);
  } finally {
    process.chdir(cwd);
  }

  const bytes = walk.removed.reduce((a, r) => a + r.bytes, 0);
  const files = walk.removed.filter((r) => !r.dir).length;
  const dirs = walk.removed.length - files;
  if (opts.json) {
    const report: CachePruneReport = {
      dir: root, dry_run: walk.dryRun, bytes_before: sizes?.before ?? null, bytes_after: sizes?.after ?? null,
      freed_bytes: bytes, files_removed: files, dirs_removed: dirs, failed: walk.failed.length,
    };
    println(ctx.stdout, JSON.stringify(report));
    for (const f of walk.failed.slice(0, 20)) ctx.stderr.write(`could not prune ${relative(root, f.path) || f.path}: ${f.message}\n`);
    return walk.failed.length > 0 ? 1 : 0;
  }
  const verb = walk.dryRun ? 'would remove' : 'removed';
  for (const r of walk.removed) {
    println(ctx.stdout, `${verb}  ${formatBytes(r.bytes).padStart(9)}  ${relative(root, r.path)}${r.dir ? '/' : ''}`);
  }
  for (const f of walk.failed) ctx.stderr.write(`could not prune ${relative(root, f.path) || f.path}: ${f.message}\n`);
  const criteria = [opts.olderThan !== undefined ? `older than ${opts.olderThan}` : undefined, opts.maxGb !== undefined ? `least recently used beyond ${opts.maxGb} GB` : undefined].filter(Boolean).join(', ');
  if (walk.removed.length === 0) {
    println(ctx.stdout, `nothing ${criteria} in ${root}`);
  } else {
    println(ctx.stdout, `${walk.dryRun ? 'would free' : 'freed'} ${formatBytes(bytes)} (${bytes} bytes): ${files} file(s), ${dirs} director${dirs === 1 ? 'y' : 'ies'} ${criteria} in ${root}${walk.dryRun ? ' (dry run: nothing removed)' : ''}`);
  }
  if (sizes) println(ctx.stdout, `size: ${formatBytes(sizes.before)} before, ${formatBytes(sizes.after)} after (at most ${opts.maxGb} GB)`);
  return walk.failed.length > 0 ? 1 : 0;
}

/** `50`, `7.5` (GB, decimal) → bytes; undefined if malformed. */
export function parseGb(value: string): number | undefined {
  if (!/^\d+(\.\d+)?$/.test(value.trim())) return undefined;
  const bytes = Math.floor(Number(value) * 1e9);
  return Number.isFinite(bytes) ? bytes : undefined;
}

function emptyReport(dir: string, dryRun: boolean, sized: boolean): CachePruneReport {
  return { dir, dry_run: dryRun, bytes_before: sized ? 0 : null, bytes_after: sized ? 0 : null, freed_bytes: 0, files_removed: 0, dirs_removed: 0, failed: 0 };
}

function sameInode(a: Stats, b: Stats): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}

/**
 * Prunes the working directory, which the caller verified to be `dir` (inode `self`); true when
 * nothing is (or, dry, would be) left in it. Entries are named relative to it, never by path.
 */
async function pruneHere(dir: string, self: Stats, walk: Walk): Promise<boolean> {
  let names: string[];
  try {
    names = await readdir('.');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true;
    walk.failed.push({ path: dir, message: (err as Error).message });
    return false;
  }
  let left = names.length;
  for (const name of names.sort()) {
    const path = join(dir, name);
    const st = await lstatEntry(name, path, walk);
    if (st === 'gone') left--;
    if (typeof st === 'string') continue;
    if (st.isDirectory()) {
      // Read before pruning the children: removing them bumps the directory's mtime.
      const old = st.mtimeMs < walk.cutoff;
      const emptied = await pruneChild(name, path, st, walk);
      await climbBack(dir, self);
      if (emptied && old && (await remove(name, path, true, st, walk))) left--;
    } else if (st.mtimeMs < walk.cutoff) {
      // Files, symlinks (the link itself), sockets, fifos: unlink never follows a link.
      if (await remove(name, path, false, st, walk)) left--;
    }
  }
  return left === 0;
}

/**
 * lstat of an entry of the working directory: its Stats, `'gone'` when it vanished since the
 * listing (ENOENT: a job or a racer removed it, which is fine), or `'failed'` (recorded in
 * `walk.failed` under `path`).
 */
async function lstatEntry(name: string, path: string, walk: Walk): Promise<Stats | 'gone' | 'failed'> {
  try {
    return await lstat(name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
    walk.failed.push({ path, message: (err as Error).message });
    return 'failed';
  }
}

/** Enters child `name` only if it is still the directory lstat'ed as `st`, and prunes it. */
async function pruneChild(name: string, path: string, st: Stats, walk: Walk): Promise<boolean> {
  try {
    process.chdir(name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true;
    walk.failed.push({ path, message: (err as Error).message });
    return false;
  }
  if (!sameInode(await lstat('.'), st)) {
    walk.failed.push({ path, message: 'replaced while pruning (by a link?); skipped' });
    return false;
  }
  return pruneHere(path, st, walk);
}

/** Back to the parent after a child: `..`, verified to be the parent's inode. */
async function climbBack(dir: string, self: Stats): Promise<void> {
  process.chdir('..');
  if (sameInode(await lstat('.'), self)) return;
  // We entered something that was not our child (it was swapped mid-chdir): its `..` is elsewhere.
  process.chdir(dir);
  if (!sameInode(await lstat('.'), self)) throw new ExitError(1, [`cache prune stopped: ${dir} was replaced while it was pruned`]);
}

/** Removes entry `name` of the working directory (`path` is for the report only). */
async function remove(name: string, path: string, dir: boolean, st: Stats, walk: Walk): Promise<boolean> {
  try {
    if (!walk.dryRun) await (dir ? rmdir(name) : unlink(name));
  } catch (err) {
    // Gone already (a job cleaned up after itself): what we wanted, but not ours to count as freed.
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return true;
    // Something was written into it while we pruned: in use, so it stays (not a failure).
    if (dir && (code === 'ENOTEMPTY' || code === 'EEXIST')) return false;
    walk.failed.push({ path, message: (err as Error).message });
    return false;
  }
  walk.removed.push({ path, dir, bytes: allocatedBytes(st) });
  return true;
}

/** A directory on the way down from the cache dir: its name in its parent and its identity. */
interface Hop {
  name: string;
  dev: number;
  ino: number;
}

/** A file (or link) as `--max-gb` measured it. */
interface Measured {
  /** The directories from the cache dir down to the one holding it. */
  hops: Hop[];
  dirPath: string;
  name: string;
  dev: number;
  ino: number;
  bytes: number;
  /** The later of mtime and atime: when it was last written or read. */
  lastUsed: number;
}

/**
 * `--max-gb`: measures the cache (working directory: the verified cache dir), then removes the least
 * recently used files until it takes at most `maxBytes`, then the directories that emptied.
 */
async function pruneToSize(rootStat: Stats, maxBytes: number, walk: Walk): Promise<{ before: number; after: number }> {
  const files: Measured[] = [];
  const before = allocatedBytes(rootStat) + (await measureHere(walk.root, rootStat, [], files, new Set(), walk));
  let projected = before;
  const victims: Measured[] = [];
  files.sort((a, b) => a.lastUsed - b.lastUsed || join(a.dirPath, a.name).localeCompare(join(b.dirPath, b.name)));
  for (const f of files) {
    if (projected <= maxBytes) break;
    if (f.bytes === 0) continue; // another hard link of a file counted once: removing it frees nothing
    victims.push(f);
    projected -= f.bytes;
  }
  const byDir = new Map<string, Measured[]>();
  for (const v of victims) byDir.set(v.dirPath, [...(byDir.get(v.dirPath) ?? []), v]);
  const removedBefore = walk.removed.length;
  for (const dirPath of [...byDir.keys()].sort()) {
    const group = byDir.get(dirPath)!;
    if (!(await descend(rootStat, group[0]!.hops, walk))) {
      for (const v of group) walk.failed.push({ path: join(v.dirPath, v.name), message: 'a directory on its way was replaced while pruning (by a link?); kept' });
      continue;
    }
    for (const v of group) {
      const st = await lstatEntry(v.name, join(v.dirPath, v.name), walk);
      if (typeof st === 'string') continue;
      if (st.dev !== v.dev || st.ino !== v.ino || st.isDirectory()) {
        walk.failed.push({ path: join(v.dirPath, v.name), message: 'replaced since it was measured; kept' });
        continue;
      }
      await remove(v.name, join(v.dirPath, v.name), false, st, walk);
    }
    if (!walk.dryRun) await removeEmptied(rootStat, group[0]!.hops, dirPath, walk);
  }
  const freed = walk.removed.slice(removedBefore).reduce((a, r) => a + r.bytes, 0);
  return { before, after: before - freed };
}

/** Sums allocated bytes under the working directory (verified to be `dir`); collects its files. */
async function measureHere(dir: string, self: Stats, hops: Hop[], out: Measured[], seen: Set<string>, walk: Walk): Promise<number> {
  let names: string[];
  try {
    names = await readdir('.');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') walk.failed.push({ path: dir, message: (err as Error).message });
    return 0;
  }
  let bytes = 0;
  for (const name of names.sort()) {
    const path = join(dir, name);
    const st = await lstatEntry(name, path, walk);
    if (typeof st === 'string') continue;
    if (st.isDirectory()) {
      bytes += allocatedBytes(st);
      if (await enter(name, path, st, walk)) bytes += await measureHere(path, st, [...hops, { name, dev: st.dev, ino: st.ino }], out, seen, walk);
      await climbBack(dir, self);
      continue;
    }
    const key = `${st.dev}:${st.ino}`;
    const counted = st.nlink > 1 && seen.has(key);
    if (st.nlink > 1) seen.add(key);
    const size = counted ? 0 : allocatedBytes(st);
    bytes += size;
    out.push({ hops, dirPath: dir, name, dev: st.dev, ino: st.ino, bytes: size, lastUsed: Math.max(st.mtimeMs, st.atimeMs) });
  }
  return bytes;
}

/** Enters child directory `name` only if it is still the directory lstat'ed as `st`. */
async function enter(name: string, path: string, st: Stats, walk: Walk): Promise<boolean> {
  try {
    process.chdir(name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') walk.failed.push({ path, message: (err as Error).message });
    return false;
  }
  if (sameInode(await lstat('.'), st)) return true;
  walk.failed.push({ path, message: 'replaced while pruning (by a link?); skipped' });
  return false;
}

/** From the cache dir down `hops`, checking each directory's identity; false if one changed. */
async function descend(rootStat: Stats, hops: Hop[], walk: Walk): Promise<boolean> {
  process.chdir(walk.root);
  if (!sameInode(await lstat('.'), rootStat)) throw new ExitError(1, [`cache prune stopped: ${walk.root} was replaced while it was pruned`]);
  for (const hop of hops) {
    try {
      process.chdir(hop.name);
    } catch {
      return false;
    }
    const here = await lstat('.');
    if (here.dev !== hop.dev || here.ino !== hop.ino) return false;
  }
  return true;
}

/** After removing files in the directory at the end of `hops` (the working directory): rmdir it and its parents while they are empty. */
async function removeEmptied(rootStat: Stats, hops: Hop[], dirPath: string, walk: Walk): Promise<void> {
  let path = dirPath;
  for (let i = hops.length - 1; i >= 0; i--) {
    process.chdir('..');
    const parent = i === 0 ? rootStat : hops[i - 1]!;
    const here = await lstat('.');
    if (here.dev !== parent.dev || here.ino !== parent.ino) return; // entered through a swap; the next group starts from the root again
    let bytes: number;
    try {
      bytes = allocatedBytes(await lstat(hops[i]!.name));
      await rmdir(hops[i]!.name);
    } catch {
      return; // not empty (or no longer a directory): it and everything above stay
    }
    walk.removed.push({ path, dir: true, bytes });
    path = join(path, '..');
  }
}
