/**
 * Installs the fake `tart` executable: a tiny shell wrapper `<dir>/tart` that execs Node on the
 * compiled dist/sim/tart/fake-tart.js. Tests and the demo put `<dir>` on PATH or pass the returned
 * path as `tartBin`.
 *
 * ## Lifecycle
 * Call once per test world (any temp dir); the wrapper holds absolute paths, so it works from any cwd.
 *
 * ## Gotchas
 * - The wrapper uses `exec`, so the pid a caller sees is the fake tart's own pid (timeouts and
 *   `tart stop` signal the right process).
 * - It needs the compiled script: run `npm run build` (`npm test` does) first. Under ts-jest this
 *   module is loaded from src/, so the script is looked up in the repository's dist/.
 * - Node is referenced by absolute path (process.execPath), so a minimal PATH still works.
 */
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The compiled fake tart script; throws if it has not been built. */
export function fakeTartScript(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const sibling = join(here, 'fake-tart.js');
  if (existsSync(sibling)) return sibling;
  // Running from src/ (ts-jest): find the package root, then its dist/.
  let dir = here;
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  const built = join(dir, 'dist', 'sim', 'tart', 'fake-tart.js');
  if (!existsSync(built)) throw new Error(`fake tart not built: ${built} is missing (run npm run build)`);
  return built;
}

const sq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export function installFakeTart(dir: string): string {
  const abs = resolve(dir);
  mkdirSync(abs, { recursive: true });
  const path = join(abs, 'tart');
  writeFileSync(path, `#!/bin/sh\nexec ${sq(process.execPath)} ${sq(fakeTartScript())} "$@"\n`);
  chmodSync(path, 0o755);
  return path;
}

// Re-exported so that callers can set up a simulated Mac from one module.
export { createGoldenImage } from './store.js';
