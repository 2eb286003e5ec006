/**
 * The prerequisite checks of `validate` beyond the config itself. Each returns one line.
 * The tart, GitHub and SSH checks are added as their adapters land (see the README's status).
 */
import type { Config } from '../config/types.js';
import type { CliContext } from './context.js';
import type { CheckResult } from './validate.js';

export async function prerequisiteChecks(_ctx: CliContext, _config: Config): Promise<CheckResult[]> {
  return [];
}
