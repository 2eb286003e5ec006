/**
 * Loads the configuration for a command from its context (`--config`, TART_FLEET_CONFIG, cwd).
 */
import { loadConfig, type LoadedConfig } from '../config/load.js';
import type { CliContext } from './context.js';

export function loadForCommand(ctx: CliContext, path: string | undefined): LoadedConfig {
  return loadConfig({ path, env: ctx.env, cwd: ctx.cwd, hostname: ctx.hostname, totalMemBytes: ctx.totalMemBytes });
}
