/**
 * The shared vocabulary of `validate`'s checks: one result per line (`ok`, `warn` or `FAIL`), how a
 * line is printed, the summary, and the checks that need nothing but the file system. The modules
 * that make checks (prerequisites.ts, github-checks.ts, image-checks.ts, validate.ts) import from
 * here; nothing here imports them, so the arrows point one way.
 *
 * ## Gotchas
 * - No check here creates anything: a missing directory is judged by its nearest existing parent
 *   (`run` creates it later), never by trying to make it.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { dirname } from 'node:path';

export interface CheckResult {
  status: 'ok' | 'warn' | 'fail';
  /** What was checked: `tart`, `golden image`, `cache dir`… */
  what: string;
  /** What was found (and, for checks that word it themselves, the fix). */
  detail: string;
  /** How to fix a FAIL or warn, when the detail does not say it already. */
  fix?: string;
}

/** `ok   what: detail`, `FAIL what: detail — fix: …`: the text form, one line per result. */
export function formatCheck(r: CheckResult): string {
  const tag = r.status === 'fail' ? 'FAIL' : r.status.padEnd(4);
  return `${tag} ${r.what}: ${r.detail}${r.fix ? ` — fix: ${r.fix}` : ''}`;
}

export interface CheckCounts {
  ok: number;
  warn: number;
  fail: number;
}

export function countChecks(results: readonly CheckResult[]): CheckCounts {
  const counts: CheckCounts = { ok: 0, warn: 0, fail: 0 };
  for (const r of results) counts[r.status] += 1;
  return counts;
}

/** `2 FAIL, 1 warn, 14 ok` */
export function summaryLine(counts: CheckCounts): string {
  return `${counts.fail} FAIL, ${counts.warn} warn, ${counts.ok} ok`;
}

/**
 * A directory the daemon writes to: writable if it exists, else creatable (its nearest existing
 * parent is a writable directory). Creates nothing.
 */
export function writableDirCheck(what: string, dir: string): CheckResult {
  const fix = (path: string) => `create it writable for the daemon's user: sudo install -d -o "$USER" ${path}`;
  try {
    if (statSync(dir).isDirectory()) {
      accessSync(dir, constants.W_OK);
      return { status: 'ok', what, detail: `${dir} is writable` };
    }
    return { status: 'fail', what, detail: `${dir} exists but is not a directory`, fix: `remove or rename it, or set another path in pipeline.yml` };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') return { status: 'fail', what, detail: `${dir} is not writable (${code})`, fix: fix(dir) };
    if (code !== 'ENOENT') return { status: 'fail', what, detail: `${dir}: ${(err as Error).message}`, fix: fix(dir) };
  }
  const parent = nearestExisting(dir);
  try {
    if (!statSync(parent).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    accessSync(parent, constants.W_OK);
    return { status: 'ok', what, detail: `${dir} does not exist yet; \`run\` will create it (${parent} is writable)` };
  } catch {
    return { status: 'fail', what, detail: `${dir} does not exist and cannot be created: ${parent} is not a writable directory`, fix: fix(dir) };
  }
}

function nearestExisting(path: string): string {
  let p = dirname(path);
  for (;;) {
    try {
      statSync(p);
      return p;
    } catch {
      const up = dirname(p);
      if (up === p) return p;
      p = up;
    }
  }
}
