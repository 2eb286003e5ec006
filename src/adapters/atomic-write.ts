/**
 * Writes a file so that a reader sees either the old or the new content, never half of either:
 * a temp file in the same directory (same filesystem, so rename is atomic), then rename over.
 *
 * ## Gotchas
 * - The temp file is created exclusively (`O_CREAT|O_EXCL|O_NOFOLLOW`, under a random name): a
 *   symlink or file planted at a predictable temp name makes the write fail instead of writing, and
 *   chmod-ing, through it (audit turn4-security N7: a planted `.status.json.<pid>.tmp` → app.pem
 *   overwrote the key and made it 0644). POSIX open(2): with O_CREAT and O_EXCL "if path names a
 *   symbolic link, open() shall fail with EEXIST"; O_NOFOLLOW is belt and braces.
 * - The mode is set on the open descriptor (fchmod), not by path and not left to the umask. Default
 *   0600: the status snapshot, the memory file and the metrics name private repositories, profiles
 *   and runners; only the daemon's user (and root) read them.
 * - `rename` replaces the target name itself: a symlink planted at the target is replaced, never
 *   followed (rename(2)).
 */
import { randomBytes } from 'node:crypto';
import { closeSync, constants, fchmodSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

const EXCLUSIVE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0);

export function writeFileAtomic(file: string, text: string, mode = 0o600): void {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, EXCLUSIVE, mode);
    fchmodSync(fd, mode);
    const bytes = Buffer.from(text, 'utf8');
    for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off, bytes.length - off);
    // On disk before the rename, so a crash leaves the old file or the new one, never an empty one.
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, file);
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    // Only a temp file we created is ours to remove: EEXIST means someone else's is there.
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') rmSync(tmp, { force: true });
    throw err;
  }
}
