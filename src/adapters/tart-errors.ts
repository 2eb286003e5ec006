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
 * - Out of disk has no dedicated tart message. swift-argument-parser prints an NSError's
 *   `localizedDescription`, so a full disk reads like Cocoa's "… couldn’t be copied … because there
 *   isn’t enough space." or "… because the volume “X” is out of space." (NSCocoaErrorDomain 640);
 *   the `tart run` task path prints the debug form (`Error Domain=… Code=…`), where
 *   `VZErrorDomain Code=8` is VZErrorOutOfDiskSpace; a pull can also abort with
 *   `NSFileHandleOperationException … No space left on device` (tart #989). All of these, plus
 *   ENOSPC spellings, are matched (audit tart.md #6).
 * - `VM is missing some of its files` is what a VM directory half-removed by a concurrent `delete`
 *   answers (exit 1): it is `vm-missing`, like `does not exist` (audit #8).
 * - A missing `--dir` host path (`VZErrorDomain Code=2 "A directory sharing device configuration is
 *   invalid."`) and Softnet that cannot start have no kind of their own: they are `other` with
 *   advice that names the fix.
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
  dirShare: 'a --dir host path does not exist: create the cache dir (host.cache_dir) or fix its path',
  softnet:
    'Softnet cannot start under the daemon: brew install cirruslabs/cli/softnet, then make it setuid root (sudo chown root and sudo chmod u+s on its resolved path; redo after brew upgrade); see docs/real-mac-guide.md',
} as const;

const PATTERNS: { kind: TartErrorKind; re: RegExp; advice?: string }[] = [
  { kind: 'vm-missing', re: /the specified VM ".*" does not exist|VM is missing some of its files/ },
  { kind: 'already-running', re: /VM ".*" is already running!/ },
  { kind: 'not-running', re: /VM ".*" is not running/ },
  { kind: 'is-running', re: /VM ".*" is running\s*$/m },
  {
    kind: 'vz-limit',
    re: /number of VMs exceeds the system limit|VZErrorDomain Code=6\b|maximum supported number of active virtual machines/i,
    advice: ADVICE.vzLimit,
  },
  { kind: 'no-ip', re: /no IP address found/ },
  {
    kind: 'out-of-disk',
    re: /No space left on device|NSPOSIXErrorDomain Code=28\b|\bENOSPC\b|not enough (free )?(disk )?space|disk is full|out of disk space|isn[’']t enough space|is out of space|NSCocoaErrorDomain Code=640\b|VZErrorDomain Code=8\b/i,
    advice: ADVICE.outOfDisk,
  },
  { kind: 'other', re: /directory sharing device configuration is invalid/i, advice: ADVICE.dirShare },
  { kind: 'other', re: /softnet not found in PATH|Softnet process terminated prematurely|root privileges are required to run/i, advice: ADVICE.softnet },
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

/**
 * The first line of `text` (a `tart run` log) that names a known failure, with its class; undefined
 * when nothing in it is recognised. Used when a VM died after `run` stopped watching it.
 */
export function knownFailureIn(text: string): (TartFailureClass & { line: string }) | undefined {
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '') continue;
    const p = PATTERNS.find((x) => x.kind !== 'no-ip' && x.re.test(line));
    if (p) return p.advice ? { kind: p.kind, advice: p.advice, line } : { kind: p.kind, line };
  }
  return undefined;
}
