/**
 * `tart-fleet validate`: checks the configuration and the prerequisites, one line each
 * (`ok`, `warn` or `FAIL`), and exits 0 only when nothing failed. A config error exits 2 with one
 * line per problem (thrown as ConfigError by the loader).
 */
import { accessSync, constants, mkdirSync } from 'node:fs';
import { ramCeilingMb } from '../config/types.js';
import { loadForCommand } from './config.js';
import { println, type CliContext } from './context.js';

export interface CheckResult {
  status: 'ok' | 'warn' | 'fail';
  what: string;
  detail: string;
}

export async function validateCommand(ctx: CliContext, opts: { config?: string; configOnly?: boolean }): Promise<number> {
  const { config, warnings } = loadForCommand(ctx, opts.config);
  const results: CheckResult[] = [];
  const profiles = Object.values(config.profiles);
  results.push({
    status: 'ok',
    what: 'config',
    detail: `${config.source}: org ${config.github.org}, runner_name ${config.github.runner_name}, ${profiles.length} profile(s) (${profiles.map((p) => `${p.name} ${p.ram_mb} MB/${p.cpu} CPU/${p.timeout_minutes} min`).join(', ')})`,
  });
  results.push({
    status: 'ok',
    what: 'ram ceiling',
    detail: `${ramCeilingMb(config.host)} MB for VMs (${config.host.total_ram_mb} MB total - ${config.host.reserved_ram_gb} GB reserved), at most ${config.host.max_vms} macOS VMs`,
  });
  for (const w of warnings) results.push({ status: 'warn', what: 'config', detail: w });
  results.push(checkWritableDir('cache dir', config.host.cache_dir));
  results.push(checkWritableDir('log dir', config.host.log_dir));
  if (!opts.configOnly) {
    const { prerequisiteChecks } = await import('./prerequisites.js');
    results.push(...(await prerequisiteChecks(ctx, config)));
  }
  for (const r of results) println(ctx.stdout, `${r.status === 'fail' ? 'FAIL' : r.status.padEnd(4)} ${r.what}: ${r.detail}`);
  return results.some((r) => r.status === 'fail') ? 1 : 0;
}

function checkWritableDir(what: string, dir: string): CheckResult {
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
    return { status: 'ok', what, detail: `${dir} is writable` };
  } catch (err) {
    return { status: 'fail', what, detail: `${dir}: ${(err as Error).message}` };
  }
}
