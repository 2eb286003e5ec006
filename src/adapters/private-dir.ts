/**
 * The daemon's state directory (`host.state_dir`): created 0700, and refused when another user owns
 * it or others may write to it. Whoever can write there can plant the sweep state (URLs the token is
 * sent to, github-sweep-state.ts), the give-ups (memory.json), or symlinks at the names the daemon
 * writes; whoever can read it sees private repositories' names.
 *
 * ## Gotchas
 * - An existing directory keeps its mode when it is only readable by others (0755 is the old
 *   default): its files are written 0600 (atomic-write.ts), so it is allowed; writable by group or
 *   others, or owned by someone else, is refused with the fix.
 * - The check follows a symlinked state_dir (stat, not lstat): a link to a directory the daemon's
 *   user owns is a legitimate layout; what matters is who owns and may write the directory reached.
 * - `mkdir -p` gives the mode to every directory it creates (Node's recursive mkdir), so new parents
 *   are 0700 too.
 * - process.getuid is absent on Windows: the owner check is skipped there (the daemon is macOS-only).
 */
import { mkdirSync, statSync } from 'node:fs';
import { ConfigError } from '../config/errors.js';

/** Creates `dir` (0700) if missing; throws ConfigError naming `field` if it is not private enough. */
export function ensurePrivateDir(dir: string, field: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new ConfigError([`${field}: cannot create ${dir} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); create it for the daemon's user: install -d -m 700 ${dir}`]);
  }
  const problem = privateDirProblem(dir, field);
  if (problem) throw new ConfigError([problem]);
}

/** Why `dir` is not a private directory of this process's user, or undefined when it is. */
export function privateDirProblem(dir: string, field: string): string | undefined {
  const s = statSync(dir);
  if (!s.isDirectory()) return `${field}: ${dir} is not a directory; set another path`;
  const me = process.getuid?.();
  if (me !== undefined && s.uid !== me) {
    return `${field}: ${dir} is owned by uid ${s.uid}, not by the daemon's user (uid ${me}); whoever owns it can plant the state the daemon trusts: sudo chown -R "$(id -un)" ${dir} && chmod 700 ${dir}, or set another path`;
  }
  if ((s.mode & 0o022) !== 0) {
    return `${field}: ${dir} can be written by ${s.mode & 0o002 ? 'every user' : 'its group'} (mode ${(s.mode & 0o777).toString(8).padStart(4, '0')}); others could plant the state the daemon trusts: chmod 700 ${dir}`;
  }
  return undefined;
}
