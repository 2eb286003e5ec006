/**
 * This package on disk: where it is installed and which version it is. The one place that reads
 * package.json, so `--version`, the status snapshot and the metrics can never disagree.
 *
 * ## Gotchas
 * - The root is two levels above this module, which holds from src/config/ (jest, ts-node) and
 *   from dist/config/ (the bin) alike.
 * - An unreadable package.json gives the version `unknown`, never a throw: a version is for people.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PACKAGE_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

let version: string | undefined;

/** The `version` of this package's package.json, read once. */
export function packageVersion(): string {
  if (version === undefined) {
    try {
      const parsed = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version?: unknown };
      version = typeof parsed.version === 'string' ? parsed.version : 'unknown';
    } catch {
      version = 'unknown';
    }
  }
  return version;
}
