/**
 * `tart-fleet cache prune --older-than 7d`: removes what has not changed for that long from
 * `host.cache_dir`, the directory shared into every VM as `cache` (toolchains, package caches).
 * Bottom-up: old files first, then directories left empty whose own mtime is old too. `--dry-run`
 * prints what it would remove and frees nothing. One line per entry, then the bytes freed.
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
 *   stops if even that fails. The working directory is restored at the end (this is a short-lived
 *   CLI process; the daemon never runs it in-process).
 * - A directory's mtime is read before its children are pruned (removing them bumps it). A
 *   directory is removed only when everything in it went and it was old itself: a young empty
 *   directory was made or changed recently, so something may still use it.
 * - The cache dir itself is never removed, and `/` or the home directory are refused outright.
 * - Sizes are allocated bytes (du.ts): what the removal frees. VMs may be using the share while
 *   this runs; an old file a running job still reads stays readable to it until it closes it.
 */
import { lstat, readdir, realpath, rmdir, unlink } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { homedir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { loadForCommand } from './config.js';
import { ExitError, println, type CliContext } from './context.js';
import { allocatedBytes, formatBytes } from './du.js';

export interface CachePruneOptions {
  config?: string;
  olderThan: string;
  dryRun?: boolean;
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
  const ageMs = parseAge(opts.olderThan);
  if (ageMs === undefined) throw new ExitError(2, [`--older-than: must be a positive age like 7d, 12h or 30m (got ${JSON.stringify(opts.olderThan)})`]);
  const { config } = loadForCommand(ctx, opts.config);
  const configured = config.host.cache_dir;

  let root: string;
  let rootStat: Stats;
  try {
    // The cache dir itself may be a link the operator made (to another volume): that one we follow.
    root = await realpath(configured);
    rootStat = await lstat(root);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      println(ctx.stdout, `nothing to prune: ${configured} does not exist`);
      return 0;
    }
    throw new ExitError(1, [`host.cache_dir: cannot read ${configured}: ${(err as Error).message}`]);
  }
  if (!rootStat.isDirectory()) throw new ExitError(2, [`host.cache_dir: ${configured} is not a directory`]);
  if (root === sep || root === (await realpath(homedir()).catch(() => homedir()))) {
    throw new ExitError(2, [`host.cache_dir: refusing to prune ${root} (it is not a cache dir of its own)`]);
  }

  const walk: Walk = { root, cutoff: (opts.now ?? Date.now()) - ageMs, dryRun: Boolean(opts.dryRun), removed: [], failed: [] };
  const cwd = process.cwd();
  try {
    process.chdir(root);
    if (!sameInode(await lstat('.'), rootStat)) throw new ExitError(1, [`host.cache_dir: ${root} changed while it was opened; nothing pruned`]);
    await pruneHere(root, rootStat, walk);
  } finally {
    process.chdir(cwd);
  }

  const verb = walk.dryRun ? 'would remove' : 'removed';
  for (const r of walk.removed) {
    println(ctx.stdout, `${verb}  ${formatBytes(r.bytes).padStart(9)}  ${relative(root, r.path)}${r.dir ? '/' : ''}`);
  }
  for (const f of walk.failed) ctx.stderr.write(`could not prune ${relative(root, f.path) || f.path}: ${f.message}\n`);
  const bytes = walk.removed.reduce((a, r) => a + r.bytes, 0);
  const files = walk.removed.filter((r) => !r.dir).length;
  const dirs = walk.removed.length - files;
  if (walk.removed.length === 0) {
    println(ctx.stdout, `nothing older than ${opts.olderThan} in ${root}`);
  } else {
    println(ctx.stdout, `${walk.dryRun ? 'would free' : 'freed'} ${formatBytes(bytes)} (${bytes} bytes): ${files} file(s), ${dirs} director${dirs === 1 ? 'y' : 'ies'} older than ${opts.olderThan} in ${root}${walk.dryRun ? ' (dry run: nothing removed)' : ''}`);
  }
  return walk.failed.length > 0 ? 1 : 0;
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
    let st: Stats;
    try {
      st = await lstat(name);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') left--;
      else walk.failed.push({ path, message: (err as Error).message });
      continue;
    }
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
