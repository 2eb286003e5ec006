/**
 * The package itself: where it is installed (PACKAGE_ROOT: the schema, the bin script and
 * package.json are found from there) and its version, read from package.json in this one place
 * (`--version`, `ls`, the status snapshot, the metrics' build_info and the daemon's start line).
 *
 * ## Gotchas
 * - The root is two levels above this file, which holds from src/ (jest) and dist/ (the bin) alike.
 * - An unreadable package.json gives "unknown", never a crash: the version is shown, not relied on.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

export const PACKAGE_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

let version: string | undefined;

/** package.json's `version` (read once), or "unknown". */
export function packageVersion(): string {
  if (version === undefined) {
    try {
      const v = (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version?: unknown }).version;
      version = typeof v === 'string' && v !== '' ? v : 'unknown';
    } catch {
      version = 'unknown';
    }
  }
  return version;
}
