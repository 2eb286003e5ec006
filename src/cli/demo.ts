/**
 * `tart-fleet demo`: not built yet in this revision; it says so and exits 1 rather than pretend.
 */
import { ExitError, type CliContext } from './context.js';

export async function demoCommand(_ctx: CliContext, _opts: object): Promise<number> {
  throw new ExitError(1, ['tart-fleet demo: not available in this build yet (see README, "Status")']);
}
