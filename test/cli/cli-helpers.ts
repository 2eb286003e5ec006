// Shared harness for tests that run the CLI as a user does: the real bin (bin/tart-fleet.js, which
// loads dist/) in a child process, its exit code and output captured; a writable that keeps what
// was written; one simulated world per test file.
//
// ## Gotchas
// - `runBin` runs dist/: `npm run build` first, or the child runs the last build, not the source.
// - `runBin` never throws on a non-zero exit: it returns the code, so a test asserts on it.
// - `withoutOurEnv` drops this shell's TART_FLEET_* and GITHUB_TOKEN (and whatever else is named), so a
//   developer's own settings cannot leak into a test that means to start from nothing.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { PACKAGE_ROOT } from '../../src/config/package.js';
import { SimWorld } from '../../src/sim/world.js';

export const execFileP = promisify(execFile);

/** The installed entry point, as launchd and a user's shell start it. */
export const BIN = join(PACKAGE_ROOT, 'bin', 'tart-fleet.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `node bin/tart-fleet.js ...args` with exactly `env` in `cwd`; a non-zero exit is a result, not an error. */
export async function runBin(args: string[], opts: { env: NodeJS.ProcessEnv; cwd: string }): Promise<CliResult> {
  try {
    const { stdout, stderr } = await execFileP(process.execPath, [BIN, ...args], { env: opts.env, cwd: opts.cwd });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as CliResult;
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** This process's environment without TART_FLEET_*, GITHUB_TOKEN and the names in `alsoDrop`. */
export function withoutOurEnv(alsoDrop: string[] = []): NodeJS.ProcessEnv {
  const clean: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('TART_FLEET_') && k !== 'GITHUB_TOKEN' && !alsoDrop.includes(k)) clean[k] = v;
  return clean;
}

/** A writable that keeps what was written (`text()`), a TTY or not as `tty` says. */
export function sink(tty = false): { stream: Writable & { isTTY: boolean }; text: () => string } {
  let text = '';
  const stream = Object.assign(
    new Writable({
      write(chunk, _e, cb) {
        text += String(chunk);
        cb();
      },
    }),
    { isTTY: tty },
  );
  return { stream, text: () => text };
}

/**
 * One simulated world for the enclosing file or describe block: created before its tests (handed to
 * `set`), destroyed after them.
 */
export function simWorldForAll(opts: Parameters<typeof SimWorld.create>[0], set: (world: SimWorld) => void): void {
  let world: SimWorld | undefined;
  beforeAll(async () => {
    world = await SimWorld.create(opts);
    set(world);
  });
  afterAll(async () => {
    await world?.destroy();
  });
}
