/**
 * Classifies a failed `tart` invocation into a `TartErrorKind` (facts sheet §1.0, Appendix A), so the
 * scheduler can react per class (retry later, wait for a slot, give up, alert) instead of parsing text.
 *
 * ## Lifecycle
 * Pure functions, called by the tart adapter once a command has finished (or was killed).
 *
 * ## Gotchas
 * - tart prints `RuntimeError`s without a prefix (exit 1 or 2) but errors thrown while arguments are
 *   validated with `Error: ` (exit 1, or 64 for usage errors). `tart run missing` therefore exits 1
 *   with `Error: the specified VM "missing" does not exist`, while `tart ip missing` exits 2. We
 *   match on the message text, not on the exit code alone, and accept both forms.
 * - The VZ limit has two spellings: tart's own mapping (since 2.18.1) and the raw VZErrorDomain
 *   Code=6 text from older versions; both can persist until the host reboots (tart #1217).
 * - Out of disk has no dedicated tart message. The classifier matches what macOS and tart print when a
 *   write fails: `No space left on device`, `NSPOSIXErrorDomain Code=28` (ENOSPC), `ENOSPC`, and
 *   "not enough (free) disk space" / "disk is full" / "out of disk space" wordings (case-insensitive).
 * - A missing binary shows up as exit 127 from the shell that zx spawns (126 when not executable), or
 *   as a spawn error with code ENOENT.
 * - The whole stderr is searched (the VZ text may follow another line); the error carries the first
 *   non-empty line only.
 */
import type { TartErrorKind } from '../core/ports.js';

export interface TartFailureClass {
  kind: TartErrorKind;
  advice?: string;
}

export const ADVICE = {
  vzLimit:
    'macOS allows 2 running macOS VMs per host; if no other VM is running, the limit can be stuck until the host reboots (tart issue #1217)',
  tartMissing: 'install tart with `brew install cirruslabs/cli/tart` or set TART_FLEET_TART_BIN to its path',
  outOfDisk: 'free disk space on the host (tart prune, delete old VMs) before starting more VMs',
} as const;

const PATTERNS: { kind: TartErrorKind; re: RegExp; advice?: string }[] = [
  { kind: 'vm-missing', re: /the specified VM ".*" does not exist/ },
  { kind: 'already-running', re: /VM ".*" is already running!/ },
  { kind: 'not-running', re: /VM ".*" is not running/ },
  { kind: 'is-running', re: /VM ".*" is running\s*$/m },
  {
    kind: 'vz-limit',
    re: /number of VMs exceeds the system limit|VZErrorDomain Code=6|maximum supported number of active virtual machines/i,
    advice: ADVICE.vzLimit,
  },
  { kind: 'no-ip', re: /no IP address found/ },
  {
    kind: 'out-of-disk',
    re: /No space left on device|NSPOSIXErrorDomain Code=28\b|\bENOSPC\b|not enough (free )?(disk )?space|disk is full|out of disk space/i,
    advice: ADVICE.outOfDisk,
  },
];

/** The first non-empty line of stderr, trimmed; '' when there is none. */
export function firstLine(stderr: string): string {
  for (const line of stderr.split(/\r?\n/)) {
    const t = line.trim();
    if (t !== '') return t;
  }
  return '';
}

/**
 * Classifies one failure. `exitCode` is null when the process was killed by a signal; timeouts are
 * decided by the caller (it knows it killed the process) and never reach here.
 */
export function classifyTartFailure(exitCode: number | null, stderr: string, spawnErrorCode?: string): TartFailureClass {
  if (spawnErrorCode === 'ENOENT' || exitCode === 127 || exitCode === 126) {
    return { kind: 'tart-missing', advice: ADVICE.tartMissing };
  }
  for (const p of PATTERNS) {
    if (p.re.test(stderr)) return p.advice ? { kind: p.kind, advice: p.advice } : { kind: p.kind };
  }
  // ArgumentParser's EX_USAGE: a bad flag or name. Checked after the texts because nothing above exits 64.
  if (exitCode === 64) return { kind: 'usage' };
  return { kind: 'other' };
}
