/**
 * `validate`'s lines for tier separation on the real file system (src/config/isolation.ts): one
 * FAIL per cache share that reaches another tier's cache or a path the daemon owns, else one `ok`.
 *
 * ## Gotchas
 * - The loader has already refused what the paths alone show (nested, parent, case variant); what
 *   is left here is what only the disk shows: symlinks, and case variants that resolve to one inode.
 */
import { existsSync } from 'node:fs';
import { privateDirProblem } from '../adapters/private-dir.js';
import { diskProbe, isolationProblems, type Probe } from '../config/isolation.js';
import type { Config } from '../config/types.js';
import type { CheckResult } from './checks.js';

export function isolationChecks(config: Config, env: NodeJS.ProcessEnv, probe: Probe = diskProbe): CheckResult[] {
  const problems = isolationProblems(config, env, probe);
  if (problems.length > 0) return problems.map((p) => ({ status: 'fail', what: 'isolation', detail: `${p.field}: ${p.detail}`, fix: p.fix }));
  const shared = Object.values(config.profiles).filter((p) => p.cache !== 'none');
  return [{ status: 'ok', what: 'isolation', detail: `${shared.length} cache share(s) checked by real path and inode: no tier reaches another's cache, the state, log or config dir, a secret file or TART_HOME` }];
}

/** `host.state_dir`: ours and not writable by others (run refuses otherwise; private-dir.ts). */
export function stateDirCheck(dir: string): CheckResult {
  if (!existsSync(dir)) return { status: 'ok', what: 'state dir', detail: `${dir} does not exist yet; \`run\` will create it (mode 0700)` };
  const problem = privateDirProblem(dir, 'host.state_dir');
  if (problem) return { status: 'fail', what: 'state dir', detail: problem };
  return { status: 'ok', what: 'state dir', detail: `${dir} is the daemon user's and not writable by others` };
}
