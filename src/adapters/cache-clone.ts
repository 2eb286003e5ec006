/**
 * Host-side cache clones for profiles with `cache: clone`: before a job's VM boots, the profile's
 * cache dir is copied into a throw-away directory that only that VM mounts (read-write); the copy is
 * deleted with the VM. A job can then use a warm cache but cannot plant anything a later job sees.
 *
 * - macOS: `/bin/cp -c -R -P` (APFS clonefile(2): near-free, blocks are shared until written).
 * - elsewhere: `cp -a --reflink=auto` (a reflink on btrfs/XFS, else a plain copy).
 *
 * `cp` runs through node:child_process execFile, each argument its own argv element, with a minimal
 * environment (PATH and LANG only: no secret reaches the child).
 *
 * ## Lifecycle
 * One `CacheCloneDir` per daemon, rooted at a directory it owns (host.state_dir/cache-clones).
 * `make(source, vmName)` → `<root>/<vmName>`, 0700; `remove(path)` deletes it and refuses any path
 * that is not a direct child of the root.
 *
 * ## Gotchas
 * - Symbolic links are copied as links, never followed (`-P` / `-a`): a link in the cache pointing
 *   at `~/.ssh` stays a link (which the guest resolves inside the guest), it is not a copy of the
 *   host's files. The source path itself is resolved first (realpath), so an operator's symlinked
 *   cache dir still clones its contents.
 * - The copy is `source/.` → `dest`, which copies the contents on both BSD and GNU cp; cp then gives
 *   `dest` the source's mode, so it is set back to 0700 afterwards.
 * - A missing source (a new Mac whose trusted cache was never written) gives an empty clone: the
 *   job runs cold rather than failing.
 * - A leftover clone for the same VM name (a crash between make and remove) is deleted and made
 *   anew: clones are never reused.
 * - Removal uses fs.rm, which unlinks symlinks inside the tree rather than following them, so a
 *   guest that wrote links into its clone cannot make removal reach outside it.
 */
import { execFile } from 'node:child_process';
import { chmod, lstat, mkdir, readdir, realpath, rm } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { CacheClones } from '../core/ports.js';

/** The cp argv for a clone of `source`'s contents into the existing directory `dest`. */
export function cpCommand(platform: NodeJS.Platform, source: string, dest: string): { file: string; args: string[] } {
  const from = `${source}${sep}.`;
  if (platform === 'darwin') return { file: '/bin/cp', args: ['-c', '-R', '-P', from, dest] };
  return { file: 'cp', args: ['-a', '--reflink=auto', from, dest] };
}

function run(file: string, args: string[], timeoutMs: number): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    execFile(
      file,
      args,
      { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C' }, timeout: timeoutMs, maxBuffer: 1024 * 1024 },
      (err, _stdout, stderr) => {
        if (!err) return resolvePromise();
        const firstLine = String(stderr).split('\n').find((l) => l.trim() !== '') ?? err.message;
        reject(new Error(`cache clone: ${file} failed: ${firstLine.trim()}`));
      },
    );
  });
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/**
 * Copies the contents of `source` into the new directory `dest` (mode 0700; its parent must exist).
 * Symlinks are copied as links. On failure the partial copy is removed and the error thrown.
 */
export async function cloneCacheDir(
  source: string,
  dest: string,
  opts: { platform?: NodeJS.Platform; timeoutMs?: number } = {},
): Promise<void> {
  await mkdir(dest, { mode: 0o700 });
  try {
    let real: string | undefined;
    try {
      real = await realpath(source);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (real !== undefined) {
      if (!(await lstat(real)).isDirectory()) throw new Error(`cache clone: ${source} is not a directory`);
      const { file, args } = cpCommand(opts.platform ?? process.platform, real, dest);
      await run(file, args, opts.timeoutMs ?? 10 * 60_000);
    }
    await chmod(dest, 0o700);
  } catch (err) {
    await rm(dest, { recursive: true, force: true });
    throw err;
  }
}

/** Deletes `dest`, which must be a direct child of `root`; anything else is refused. */
export async function removeCacheClone(root: string, dest: string): Promise<void> {
  const rel = relative(resolve(root), resolve(dest));
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel) || rel.includes(sep)) {
    throw new Error(`cache clone: refusing to remove ${dest}: not a clone under ${root}`);
  }
  await rm(resolve(dest), { recursive: true, force: true });
}

const VM_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** `CacheClones` rooted at one directory (created 0700 on first use). */
export class CacheCloneDir implements CacheClones {
  constructor(
    readonly root: string,
    private readonly opts: { platform?: NodeJS.Platform; timeoutMs?: number } = {},
  ) {}

  async make(source: string, vmName: string): Promise<string> {
    if (!VM_NAME_PATTERN.test(vmName)) throw new Error(`cache clone: a VM name must be letters, digits, ".", "_" or "-" (got ${JSON.stringify(vmName)})`);
    await mkdir(this.root, { recursive: true, mode: 0o700 });
    const dest = join(this.root, vmName);
    if (await exists(dest)) await removeCacheClone(this.root, dest);
    await cloneCacheDir(source, dest, this.opts);
    return dest;
  }

  async remove(path: string): Promise<void> {
    await removeCacheClone(this.root, path);
  }

  /** Removes the clone made for `vmName`, if there is one (a VM of a profile without clones has none). */
  async removeFor(vmName: string): Promise<void> {
    if (VM_NAME_PATTERN.test(vmName)) await removeCacheClone(this.root, join(this.root, vmName));
  }

  /** The clones that exist now (e.g. left by a crash), as paths `remove` accepts. */
  async list(): Promise<string[]> {
    try {
      const entries = await readdir(this.root, { withFileTypes: true });
      return entries.filter((e) => e.isDirectory()).map((e) => join(this.root, e.name)).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }
}
