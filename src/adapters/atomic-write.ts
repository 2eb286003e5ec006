/**
 * Writes a file so that a reader sees either the old or the new content, never half of either:
 * a temp file in the same directory (same filesystem, so rename is atomic), then rename over.
 *
 * ## Gotchas
 * - The mode is set explicitly (not left to the umask): the status snapshot and the metrics file are
 *   meant to be world-readable (0644); they carry only names, ids and numbers, never a secret.
 * - The temp name carries our pid, so two writers (a daemon and a stray second one) never share it.
 */
import { chmodSync, closeSync, fsyncSync, openSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export function writeFileAtomic(file: string, text: string, mode = 0o644): void {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  try {
    writeFileSync(tmp, text, { mode });
    chmodSync(tmp, mode);
    // On disk before the rename, so a crash leaves the old file or the new one, never an empty one.
    const fd = openSync(tmp, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}
