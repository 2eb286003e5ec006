/**
 * Directory shares of the fake `tart run` (`--dir [name:]path[:ro][,tag=…]`) and the guest's view of
 * them: what a macOS guest sees under `/Volumes/My Shared Files`, and a tiny guest shell (`touch`,
 * `cat`, `ls`, `test -e`, `true`, `false`) that `tart exec` runs against that view. A write into a
 * read-only share fails with `Read-only file system`; a VM started without `--dir` has no share.
 *
 * ## Lifecycle
 * `parseDirs` runs in `tart run` before the VM starts (a missing host path fails the run like real
 * tart); the parsed shares go into `<vmDir>/sim-shares.json` (a runtime file, never cloned) and the
 * control socket's exec handler (vm-process.ts) calls `guestShell` with them.
 *
 * ## Gotchas
 * - Real tart (Run.swift) splits at the first `:` into name and path when the first segment is not a
 *   path, and reads the comma-separated options (`ro`, `tag=`) from the last `:`-segment only.
 * - One unnamed share mounts at `/Volumes/My Shared Files`; named shares at
 *   `/Volumes/My Shared Files/<name>` (facts sheet §1.2).
 * - Paths outside the shares live in `<vmDir>/sim-guest-fs`, the simulated guest disk.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, normalize, resolve } from 'node:path';

export const SHARES_FILE = 'sim-shares.json';
export const SHARE_ROOT = '/Volumes/My Shared Files';

export interface Share {
  /** undefined for a single unnamed share. */
  name: string | undefined;
  hostPath: string;
  readOnly: boolean;
}

/** Parses `--dir` values like tart; throws an Error with tart's text on a bad value. */
export function parseDirs(values: string[]): Share[] {
  return values.map((v) => {
    let name: string | undefined;
    let rest = v;
    const first = v.indexOf(':');
    // `name:path…` unless the value starts with a path (`/x`, `~/x`, `./x`) or a URL.
    if (first > 0 && !v.startsWith('/') && !v.startsWith('~') && !v.startsWith('.') && !/^[a-z]+:\/\//.test(v)) {
      name = v.slice(0, first);
      rest = v.slice(first + 1);
    }
    let readOnly = false;
    const lastColon = rest.lastIndexOf(':');
    if (lastColon >= 0) {
      const words = rest.slice(lastColon + 1).split(',');
      if (words.some((w) => w === 'ro' || w.startsWith('tag='))) {
        readOnly = words.includes('ro');
        rest = rest.slice(0, lastColon);
      }
    }
    return { name, hostPath: resolve(rest), readOnly };
  });
}

/** The VZ error real tart prints (and exits 1 with) when a share's host path does not exist (tart #1207). */
export function missingShareText(): string {
  return (
    'Error Domain=VZErrorDomain Code=2 "A directory sharing device configuration is invalid." ' +
    'UserInfo={NSLocalizedFailure=Invalid virtual machine configuration., ' +
    'NSLocalizedFailureReason=A directory sharing device configuration is invalid., ' +
    'NSUnderlyingError=0x600002c8c0f0 {Error Domain=NSPOSIXErrorDomain Code=2 "No such file or directory"}}'
  );
}

export function writeShares(vmDir: string, shares: Share[]): void {
  writeFileSync(join(vmDir, SHARES_FILE), JSON.stringify(shares));
}

export function readShares(vmDir: string): Share[] {
  try {
    return JSON.parse(readFileSync(join(vmDir, SHARES_FILE), 'utf8')) as Share[];
  } catch {
    return [];
  }
}

interface Resolved {
  hostPath: string;
  readOnly: boolean;
  /** false for the guest's own disk, where parent directories are made on demand. */
  share: boolean;
}

/** Maps a guest path to the host file behind it; undefined for a path under the share root with no share. */
function resolveGuestPath(vmDir: string, shares: Share[], guestPath: string): Resolved | undefined {
  const p = normalize(guestPath);
  if (p === SHARE_ROOT || p.startsWith(`${SHARE_ROOT}/`)) {
    const below = p.slice(SHARE_ROOT.length + 1);
    const only = shares.length === 1 ? shares[0] : undefined;
    if (only && only.name === undefined) return { hostPath: join(only.hostPath, below), readOnly: only.readOnly, share: true };
    const [name, ...tail] = below.split('/');
    const share = shares.find((s) => s.name !== undefined && s.name === name);
    if (!share) return undefined;
    return { hostPath: join(share.hostPath, ...tail), readOnly: share.readOnly, share: true };
  }
  const hostPath = join(vmDir, 'sim-guest-fs', p);
  mkdirSync(dirname(hostPath), { recursive: true });
  return { hostPath, readOnly: false, share: false };
}

export interface ShellResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** Runs one guest command (argv, as `tart exec` passes it) against the guest's files. */
export function guestShell(vmDir: string, shares: Share[], argv: string[], stdin: string): ShellResult {
  const [cmd, ...args] = argv;
  const ok = (stdout = ''): ShellResult => ({ stdout, stderr: '', code: 0 });
  const fail = (stderr: string, code = 1): ShellResult => ({ stdout: '', stderr: `${stderr}\n`, code });
  switch (cmd) {
    case 'true':
      return ok();
    case 'false':
      return { stdout: '', stderr: '', code: 1 };
    case 'touch':
    case 'tee': {
      for (const a of args.filter((x) => !x.startsWith('-'))) {
        const r = resolveGuestPath(vmDir, shares, a);
        if (!r || !existsSync(dirname(r.hostPath))) return fail(`${cmd}: ${a}: No such file or directory`);
        if (r.readOnly) return fail(`${cmd}: ${a}: Read-only file system`);
        if (cmd === 'tee') appendFileSync(r.hostPath, stdin);
        else if (!existsSync(r.hostPath)) writeFileSync(r.hostPath, '');
      }
      return ok(cmd === 'tee' ? stdin : '');
    }
    case 'cat': {
      let out = '';
      for (const a of args) {
        const r = resolveGuestPath(vmDir, shares, a);
        if (!r || !existsSync(r.hostPath)) return fail(`cat: ${a}: No such file or directory`);
        out += readFileSync(r.hostPath, 'utf8');
      }
      return ok(out);
    }
    case 'ls': {
      const a = args.find((x) => !x.startsWith('-')) ?? '/';
      const r = resolveGuestPath(vmDir, shares, a);
      if (!r || !existsSync(r.hostPath)) return fail(`ls: ${a}: No such file or directory`);
      return ok(statSync(r.hostPath).isDirectory() ? readdirSync(r.hostPath).sort().map((n) => `${n}\n`).join('') : `${a}\n`);
    }
    case 'mkdir': {
      for (const a of args.filter((x) => !x.startsWith('-'))) {
        const r = resolveGuestPath(vmDir, shares, a);
        if (!r) return fail(`mkdir: ${a}: No such file or directory`);
        if (r.readOnly) return fail(`mkdir: ${a}: Read-only file system`);
        mkdirSync(r.hostPath, { recursive: true });
      }
      return ok();
    }
    case 'test': {
      const a = args.at(-1) ?? '';
      const r = resolveGuestPath(vmDir, shares, a);
      return { stdout: '', stderr: '', code: r && existsSync(r.hostPath) ? 0 : 1 };
    }
    default:
      return fail(`zsh: command not found: ${cmd ?? ''}`, 127);
  }
}
