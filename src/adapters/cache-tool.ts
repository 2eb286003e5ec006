/**
 * Measures and prunes a cache dir by running `tart-fleet cache prune --dir DIR --max-gb N --json`
 * (src/cli/cache.ts) as a child process of the daemon: `--dry-run` to measure, without to prune.
 *
 * ## Gotchas
 * - Never in the daemon's process: the prune walk `chdir`s into every directory it verifies (that is
 *   what makes it safe against a guest swapping a directory for a symlink), and a daemon whose
 *   working directory wanders would resolve its own relative paths in the cache.
 * - The child gets PATH, HOME and LANG only: no token, password or key reaches its environment, and
 *   it reads no config (`--dir`), so it needs none.
 * - `--max-gb` is written without an exponent (`toFixed`): the CLI accepts plain decimals only.
 * - Exit 1 with a report means some entries could not be removed: the report still says how big the
 *   cache is now. Anything else (no report, exit 2, a timeout) is an error.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../config/package.js';
import type { CachePruneReport, CacheTool } from '../core/ports.js';

export interface ChildCacheToolOptions {
  /** Default: this package's bin/tart-fleet.js, run by this node. */
  binPath?: string;
  nodePath?: string;
  /** Default 30 minutes: a huge cache on a slow disk, but never forever. */
  timeoutMs?: number;
}

export class ChildCacheTool implements CacheTool {
  private readonly binPath: string;
  private readonly nodePath: string;
  private readonly timeoutMs: number;

  constructor(opts: ChildCacheToolOptions = {}) {
    this.binPath = opts.binPath ?? join(PACKAGE_ROOT, 'bin', 'tart-fleet.js');
    this.nodePath = opts.nodePath ?? process.execPath;
    this.timeoutMs = opts.timeoutMs ?? 30 * 60_000;
  }

  async measure(dir: string): Promise<number> {
    const report = await this.run(['--dir', dir, '--max-gb', '0', '--dry-run', '--json']);
    return report.bytes_before ?? 0;
  }

  prune(dir: string, maxBytes: number): Promise<CachePruneReport> {
    return this.run(['--dir', dir, '--max-gb', (maxBytes / 1e9).toFixed(9), '--json']);
  }

  private run(args: string[]): Promise<CachePruneReport> {
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/', LANG: 'C' };
    return new Promise((resolve, reject) => {
      execFile(this.nodePath, [this.binPath, 'cache', 'prune', ...args], { env, timeout: this.timeoutMs, maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
        const line = String(stdout).trim().split('\n').pop() ?? '';
        let report: CachePruneReport | undefined;
        try {
          report = JSON.parse(line) as CachePruneReport;
        } catch {
          report = undefined;
        }
        const code = (err as { code?: unknown } | null)?.code;
        if (report && (!err || code === 1)) return resolve(report);
        const why = String(stderr).split('\n').find((l) => l.trim() !== '') ?? (err as Error | null)?.message ?? 'no report';
        reject(new Error(`cache prune ${args.join(' ')}: ${why.trim()}`));
      });
    });
  }
}
