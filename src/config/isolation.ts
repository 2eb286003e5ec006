/**
 * Tier separation by what the file system says: which directories a VM sees through its cache
 * share, and whether any of them reaches another trust tier's cache or something the daemon owns.
 *
 * A profile with `cache` other than `none` shares its `cache_dir` into its VMs (ro, rw, or as a
 * per-job copy: `clone` copies it, so the guest reads all of it). Two such dirs of different tiers
 * must not be equal or nested either way; and no shared dir may be equal to, contain or sit inside
 * `host.state_dir`, `host.log_dir` or TART_HOME (the daemon's state, the VMs' logs, the other VMs'
 * disks), nor contain the config file's directory or a secret file (the GitHub token, the SSH
 * password, the App key, `vm.ssh_private_key_path`). A cache dir that merely sits *inside* the
 * config's directory is the default layout (`./cache` beside pipeline.yml) and harmless: a guest
 * sees only the subtree it is given.
 *
 * Two layers, one rule (`within`):
 * - `lexicalProbe`: resolved paths only, no file system. The loader runs it for every command, so a
 *   nested, parent or case-variant layout is a config error everywhere.
 * - `diskProbe`: the real path (symlinks resolved, dangling ones too) and the (device, inode) of the
 *   path and each ancestor. `validate` FAILs on what it finds; `run` refuses to start (exit 2).
 *
 * ## Gotchas
 * - Paths are compared case-insensitively and after Unicode normalisation: APFS, the default on
 *   macOS, is case-insensitive and normalisation-insensitive, so `./CACHE` is `./cache` there
 *   (https://developer.apple.com/support/downloads/Apple-File-System-Reference.pdf, "Case
 *   sensitivity"). On a case-sensitive volume this refuses a layout that would be safe; the
 *   message says why and the fix is a different name.
 * - `realpath` alone is not enough on macOS: realpath(3) may return the letter case as typed, so a
 *   case variant is caught by the folded compare and by the inode of the existing directory.
 * - A path that does not exist yet is judged by its nearest existing ancestor plus the rest; a
 *   dangling symlink is followed by its target text, since `mkdir -p` on the target makes it live.
 */
import { lstatSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { ConfigError } from './errors.js';
import type { Config, Trust } from './types.js';

/** What the file system says about one path. */
export interface PathIdentity {
  /** The path as configured (absolute). */
  path: string;
  /** Symlinks resolved where they exist. */
  real: string;
  /** `dev:ino` of `real` and each existing ancestor, nearest first; empty for the lexical probe. */
  chain: string[];
  /** `dev:ino` of the path itself when it exists. */
  self?: string;
}

export type Probe = (path: string) => PathIdentity;

/** One refusal: the field at fault, what is wrong, and the fix. */
export interface IsolationProblem {
  field: string;
  detail: string;
  fix: string;
}

/** No file system: the path as it is (the loader's layer). */
export const lexicalProbe: Probe = (path) => ({ path, real: path, chain: [] });

/** The real path and the inode chain; creates nothing. */
export const diskProbe: Probe = (path) => {
  const real = resolveLoose(path, 0);
  const chain: string[] = [];
  let self: string | undefined;
  for (let p = real; ; p = dirname(p)) {
    try {
      const s = statSync(p);
      const id = `${s.dev}:${s.ino}`;
      chain.push(id);
      if (p === real) self = id;
    } catch {
      // Not there yet: its ancestors decide.
    }
    if (dirname(p) === p) break;
  }
  return { path, real, chain, ...(self ? { self } : {}) };
};

function resolveLoose(path: string, depth: number): string {
  try {
    return realpathSync.native(path);
  } catch {
    // Missing, or a dangling symlink: follow the link text, else resolve the parent.
  }
  try {
    if (depth < 40 && lstatSync(path).isSymbolicLink()) return resolveLoose(resolve(dirname(path), readlinkSync(path)), depth + 1);
  } catch {
    // Not there at all.
  }
  const up = dirname(path);
  if (up === path) return path;
  return join(resolveLoose(up, depth), basename(path));
}

/** APFS compares names case- and normalisation-insensitively (see Gotchas). */
function fold(path: string): string {
  return path.normalize('NFD').toLowerCase();
}

/** Is `inner` equal to `outer` or inside it, by folded real path or by the inode chain? */
export function within(inner: PathIdentity, outer: PathIdentity): boolean {
  const i = fold(inner.real);
  const o = fold(outer.real);
  if (i === o || i.startsWith(o.endsWith(sep) ? o : o + sep)) return true;
  return outer.self !== undefined && inner.chain.includes(outer.self);
}

interface SharedCache {
  profile: string;
  trust: Trust;
  id: PathIdentity;
}

interface Guarded {
  what: string;
  id: PathIdentity;
  /** `both`: a cache may neither contain nor sit inside it; `contain`: a cache may not contain it. */
  relation: 'both' | 'contain';
}

/** The paths a cache share must stay clear of, from the config and the (raw) environment. */
export function guardedPaths(config: Config, env: NodeJS.ProcessEnv): Array<{ what: string; path: string; relation: 'both' | 'contain' }> {
  const home = env.HOME && env.HOME !== '' ? env.HOME : homedir();
  const tartHome = env.TART_HOME && env.TART_HOME !== '' ? resolve(env.TART_HOME) : join(home, '.tart');
  const out: Array<{ what: string; path: string; relation: 'both' | 'contain' }> = [
    { what: 'host.state_dir', path: config.host.state_dir, relation: 'both' },
    { what: 'host.log_dir', path: config.host.log_dir, relation: 'both' },
    { what: 'TART_HOME (the VMs)', path: tartHome, relation: 'both' },
    { what: "the config file's directory", path: dirname(resolve(config.source)), relation: 'contain' },
  ];
  for (const variable of ['TART_FLEET_GITHUB_TOKEN_FILE', 'TART_FLEET_SSH_PASSWORD_FILE']) {
    const p = env[variable];
    if (p) out.push({ what: `the secret file ${variable}`, path: resolve(p), relation: 'contain' });
  }
  const appKey = env.TART_FLEET_GITHUB_APP_PRIVATE_KEY;
  // PEM text is not a path (see secrets/secret-files.ts looksLikePem).
  if (appKey && !appKey.includes('-----BEGIN') && !appKey.includes('\n')) {
    out.push({ what: 'the GitHub App key TART_FLEET_GITHUB_APP_PRIVATE_KEY', path: resolve(appKey), relation: 'contain' });
  }
  if (config.vm.ssh_private_key_path) out.push({ what: 'vm.ssh_private_key_path', path: resolve(config.vm.ssh_private_key_path), relation: 'contain' });
  return out;
}

/**
 * Every way a cache share reaches another tier or a guarded path, judged by `probe`.
 * `name` turns a JSON pointer into the field or variable that set it (the loader's envPaths).
 */
export function isolationProblems(
  config: Config,
  env: NodeJS.ProcessEnv,
  probe: Probe,
  name: (pointer: string) => string = (p) => p.split('/').filter((s) => s !== '').join('.'),
): IsolationProblem[] {
  const problems: IsolationProblem[] = [];
  const caches: SharedCache[] = Object.values(config.profiles)
    .filter((p) => p.cache !== 'none')
    .map((p) => ({ profile: p.name, trust: p.trust, id: probe(p.cache_dir) }));
  const field = (c: SharedCache) => name(`/profiles/${c.profile}/cache_dir`);
  const how = (a: PathIdentity, b: PathIdentity) =>
    a.path === b.path || (a.path.startsWith(b.path + sep) || b.path.startsWith(a.path + sep)) ? '' : ` (${a.path} and ${b.path} reach each other through a symlink or a difference of letter case only, which APFS ignores)`;

  for (const u of caches.filter((c) => c.trust === 'untrusted')) {
    for (const t of caches.filter((c) => c.trust === 'trusted')) {
      const fix = `set profiles.${u.profile}.cache_dir to a directory of its own outside ${t.id.path} (and not containing it), or cache: none`;
      if (within(u.id, t.id) && within(t.id, u.id)) {
        problems.push({ field: field(u), detail: `untrusted profile ${u.profile} would see the cache dir of trusted profile ${t.profile} (${t.id.path})${how(u.id, t.id)}`, fix: `set profiles.${u.profile}.cache_dir to a directory of its own, or cache: none` });
      } else if (within(u.id, t.id)) {
        problems.push({ field: field(u), detail: `untrusted profile ${u.profile}'s cache dir ${u.id.path} is inside the cache dir of trusted profile ${t.profile} (${t.id.path}): trusted jobs would use what untrusted jobs write there${how(u.id, t.id)}`, fix });
      } else if (within(t.id, u.id)) {
        problems.push({ field: field(u), detail: `untrusted profile ${u.profile}'s cache dir ${u.id.path} contains the cache dir of trusted profile ${t.profile} (${t.id.path}): untrusted jobs would read, or plant files in, the trusted cache${how(u.id, t.id)}`, fix });
      }
    }
  }

  const guarded: Guarded[] = guardedPaths(config, env).map((g) => ({ what: g.what, relation: g.relation, id: probe(g.path) }));
  for (const c of caches) {
    for (const g of guarded) {
      const fix = `move profiles.${c.profile}.cache_dir (or ${g.what}) so that neither holds the other`;
      if (within(g.id, c.id)) {
        problems.push({ field: field(c), detail: `the cache dir of profile ${c.profile} (${c.id.path}) contains ${g.what} (${g.id.path}): its VMs could read or rewrite it${how(c.id, g.id)}`, fix });
      } else if (g.relation === 'both' && within(c.id, g.id)) {
        problems.push({ field: field(c), detail: `the cache dir of profile ${c.profile} (${c.id.path}) is inside ${g.what} (${g.id.path}): its VMs would see what the daemon keeps there${how(c.id, g.id)}`, fix });
      }
    }
  }
  return dedupe(problems);
}

/** The text of a problem as one config-error line: `field: detail; fix`. */
export function problemLine(p: IsolationProblem): string {
  return `${p.field}: ${p.detail}; ${p.fix}`;
}

function dedupe(problems: IsolationProblem[]): IsolationProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = problemLine(p);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** For `run`: the disk layer's problems as a ConfigError (exit 2), before anything starts. */
export function assertIsolatedOnDisk(config: Config, env: NodeJS.ProcessEnv, probe: Probe = diskProbe): void {
  const problems = isolationProblems(config, env, probe);
  if (problems.length > 0) throw new ConfigError(problems.map(problemLine));
}
