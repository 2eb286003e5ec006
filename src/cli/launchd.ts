/**
 * `tart-fleet launchd`: prints the LaunchDaemon plist that runs `tart-fleet run` on this Mac; with
 * `--install` writes it to /Library/LaunchDaemons and prints the `launchctl` commands to load it;
 * `--uninstall` unloads it (bootout) and removes it; `--status` says whether it is installed and
 * loaded (from `launchctl print system/<label>`).
 *
 * ## Lifecycle
 * Resolve the config path (as `run` would) → load it as the daemon will (cwd = the config's
 * directory, which becomes WorkingDirectory) → pick the user → carry the non-secret TART_FLEET_*
 * settings and secret *file paths* of this shell into the plist → render → print or write.
 *
 * ## Gotchas
 * - A LaunchDaemon inherits nothing from this shell: whatever the daemon needs from the environment
 *   has to be written into the plist, and the plist is world-readable. So secret values are never
 *   copied; each one found inline gets a warning naming the variable (never the value) and the
 *   `_FILE` variable to use instead (see src/secrets/secret-files.ts).
 * - `--install` needs root, and `sudo` drops the environment by default: document `sudo -E`, and
 *   refuse to install a daemon that would have no GitHub credentials (it would restart every 30 s).
 * - Under sudo, USER is root; SUDO_USER is the person who owns ~/.tart. tart must not run as root.
 * - `--install`, `--uninstall` and `--status` act on launchd, which only a Mac has: elsewhere they
 *   refuse (exit 2) before touching the disk. Printing the plist works anywhere (to inspect it).
 * - A secret file other users can read is refused (exit 2, naming the file and `chmod 600`), not
 *   warned about: the daemon would start with a secret every local user can read.
 * - The plist never holds a secret value (only `_FILE` paths), so it is written 0644 as launchd
 *   expects; if a secret-named variable ever reached it, it would be written 0600 instead.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { loadConfig, resolveConfigPath } from '../config/load.js';
import { ENV_SETTINGS } from '../config/schema.js';
import { PACKAGE_ROOT } from '../config/package.js';
import { DAEMON_LABEL, DEFAULT_LOG_DIR, LAUNCH_DAEMONS_DIR, daemonLogFile, plistPath, renderDaemonPlist } from '../launchd/plist.js';
import { APP_KEY_VAR, FILE_VAR_FOR, INLINE_SECRET_VARS, SECRET_FILE_VARS, SECRET_VALUE_VARS, isLooseMode, looksLikePem, looseModeMessage } from '../secrets/secret-files.js';
import { ExitError, platformOf, println, type CliContext } from './context.js';

export interface LaunchdOptions {
  config?: string;
  install?: boolean;
  uninstall?: boolean;
  status?: boolean;
  user?: string;
  /** Where the daemon writes its rotated log (absolute; default /Library/Logs/tart-fleet). */
  logDir?: string;
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Everything the command would otherwise take from the process or the disk; tests pin it. */
export interface LaunchdDeps {
  /** process.execPath: the node that runs the daemon. */
  execPath: string;
  /** This package's root; the daemon runs <root>/bin/tart-fleet.js. */
  packageRoot: string;
  /** Where `--install` writes the plist (/Library/LaunchDaemons). */
  launchDaemonsDir: string;
  /** The user running this command. */
  currentUser: { username: string; homedir: string };
  /** This process's uid (0 under sudo). */
  uid: number;
  /** stat of a secret file: its mode, or undefined if missing. */
  statMode: (path: string) => number | undefined;
  /** Writes the plist atomically with `mode`. */
  writePlist: (path: string, text: string, mode: number) => void;
  /** Whether a local account of that name exists (`id -u NAME`). */
  userExists: (name: string) => boolean;
  /** Runs `launchctl` with these arguments. */
  launchctl: (args: string[]) => CommandResult;
  /** Removes a file (the plist, on --uninstall). */
  removeFile: (path: string) => void;
}

/** Variables copied into the plist as they are: settings, not secrets. */
const COPIED_VARS = new Set<string>([
  ...ENV_SETTINGS.map((s) => s.variable),
  'TART_FLEET_GITHUB_APP_ID',
  'TART_FLEET_GITHUB_APP_INSTALLATION_ID',
  'TART_FLEET_TART_BIN',
  'TART_FLEET_LOG_LEVEL',
  'TART_HOME',
]);

export async function launchdCommand(ctx: CliContext, opts: LaunchdOptions): Promise<number> {
  return runLaunchd(ctx, opts, defaultDeps());
}

export function defaultDeps(): LaunchdDeps {
  const me = userInfo();
  return {
    execPath: process.execPath,
    packageRoot: PACKAGE_ROOT,
    launchDaemonsDir: LAUNCH_DAEMONS_DIR,
    currentUser: { username: me.username, homedir: me.homedir },
    uid: process.getuid?.() ?? -1,
    statMode: (p) => {
      try {
        return statSync(p).mode;
      } catch {
        return undefined;
      }
    },
    writePlist,
    userExists: (name) => spawnSync('id', ['-u', name], { stdio: 'ignore' }).status === 0,
    launchctl: (args) => {
      const r = spawnSync('launchctl', args, { encoding: 'utf8' });
      return { code: r.status ?? 1, stdout: r.stdout ?? '', stderr: r.stderr ?? (r.error?.message ?? '') };
    },
    removeFile: (path) => rmSync(path),
  };
}

export function runLaunchd(ctx: CliContext, opts: LaunchdOptions, deps: LaunchdDeps): number {
  const modes = [opts.install, opts.uninstall, opts.status].filter(Boolean).length;
  if (modes > 1) throw new ExitError(2, ['--install, --uninstall and --status: give at most one']);
  const platform = platformOf(ctx);
  if ((opts.install || opts.uninstall || opts.status) && platform !== 'darwin') {
    const flag = opts.install ? '--install' : opts.uninstall ? '--uninstall' : '--status';
    throw new ExitError(2, [`launchd ${flag}: not a Mac (${platform}): LaunchDaemons exist only on macOS. \`tart-fleet launchd\` without flags prints the plist to inspect.`]);
  }
  if (opts.uninstall) return uninstall(ctx, deps);
  if (opts.status) return status(ctx, deps);
  const warnings: string[] = [];
  const configPath = resolveConfigPath({ path: opts.config, env: ctx.env, cwd: ctx.cwd });
  // Load it the way the daemon will: from its own directory. A ConfigError ends the command (exit 2).
  const { config } = loadConfig({
    path: configPath,
    env: ctx.env,
    cwd: dirname(configPath),
    hostname: ctx.hostname,
    totalMemBytes: ctx.totalMemBytes,
  });

  const user = opts.user ?? nonEmpty(ctx.env.SUDO_USER) ?? nonEmpty(ctx.env.USER) ?? deps.currentUser.username;
  if (!/^[A-Za-z0-9_][A-Za-z0-9._-]*$/.test(user)) {
    throw new ExitError(2, [`--user: ${JSON.stringify(user)} is not a macOS account name`]);
  }
  if (user === 'root') {
    throw new ExitError(2, ['--user: tart-fleet must run as the user who owns ~/.tart and the golden image, not root (pass --user NAME)']);
  }
  if (opts.install && !deps.userExists(user)) {
    throw new ExitError(2, [`--user: there is no user ${JSON.stringify(user)} on this Mac; create it first (System Settings → Users & Groups) or pass --user NAME`]);
  }
  const homeDir = user === deps.currentUser.username ? deps.currentUser.homedir : `/Users/${user}`;
  const logDir = opts.logDir === undefined ? DEFAULT_LOG_DIR : resolve(ctx.cwd, opts.logDir);

  const refusals: string[] = [];
  const environment = daemonEnvironment(ctx, user, deps, warnings, refusals);
  if (refusals.length > 0) throw new ExitError(2, refusals);
  const hasToken = environment.TART_FLEET_GITHUB_TOKEN_FILE !== undefined;
  const appVars = ['TART_FLEET_GITHUB_APP_ID', 'TART_FLEET_GITHUB_APP_INSTALLATION_ID', APP_KEY_VAR];
  const appSet = appVars.filter((v) => environment[v] !== undefined);
  if (appSet.length > 0 && appSet.length < appVars.length) {
    warnings.push(`GitHub App auth needs all of ${appVars.join(', ')}; missing: ${appVars.filter((v) => !appSet.includes(v)).join(', ')}`);
  }
  const hasApp = appSet.length === appVars.length;
  const noCredentials =
    'the daemon would have no GitHub credentials: set TART_FLEET_GITHUB_TOKEN_FILE=<path>, or TART_FLEET_GITHUB_APP_ID + ' +
    'TART_FLEET_GITHUB_APP_INSTALLATION_ID + TART_FLEET_GITHUB_APP_PRIVATE_KEY=<path of the .pem> (with sudo, keep them: sudo -E)';
  if (!hasToken && !hasApp) {
    if (opts.install) throw new ExitError(2, [...warnings.map((w) => `warn: ${w}`), noCredentials]);
    warnings.push(noCredentials);
  }
  if (environment.TART_FLEET_SSH_PASSWORD_FILE === undefined && config.vm.ssh_private_key_path === undefined) {
    warnings.push('no guest SSH credential reaches the daemon: set TART_FLEET_SSH_PASSWORD_FILE=<path> or vm.ssh_private_key_path in pipeline.yml');
  }
  if (/\/Cellar\/|\/\.nvm\/|\/\.volta\/|\/\.asdf\//.test(deps.execPath)) {
    warnings.push(`node is ${deps.execPath}, a version-specific path: re-run \`tart-fleet launchd --install\` after upgrading node`);
  }

  const binPath = join(deps.packageRoot, 'bin', 'tart-fleet.js');
  if (!existsSync(binPath)) throw new ExitError(1, [`${binPath}: not found; is tart-fleet installed (npm install -g tart-fleet, or npm ci in a clone)?`]);
  if (!existsSync(join(deps.packageRoot, 'dist', 'main.js'))) {
    warnings.push(`${join(deps.packageRoot, 'dist')} is not built: the daemon cannot start until \`npm run build\` (npm ci does it) has run there`);
  }

  const xml = renderDaemonPlist({
    nodePath: deps.execPath,
    binPath,
    configPath,
    userName: user,
    homeDir,
    logDir,
    environment,
  });
  for (const w of warnings) println(ctx.stderr, `warn: ${w}`);

  if (!opts.install) {
    ctx.stdout.write(xml);
    return 0;
  }
  const target = plistPath(DAEMON_LABEL, deps.launchDaemonsDir);
  const mode = plistMode(environment);
  try {
    deps.writePlist(target, xml, mode);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const hint = code === 'EACCES' || code === 'EPERM' ? '; run it with sudo -E (which keeps the TART_FLEET_* variables)' : '';
    throw new ExitError(1, [`cannot write ${target}: ${code ?? (err as Error).message}${hint}`]);
  }
  for (const line of installInstructions(target, user, configPath, logDir, deps.uid === 0, mode)) println(ctx.stdout, line);
  return 0;
}

/** 0600 if a secret-named variable reached the plist (the renderer refuses those today), else 0644. */
export function plistMode(environment: Record<string, string>): number {
  const secretBearing = SECRET_VALUE_VARS.some((v) => environment[v] !== undefined && (v !== APP_KEY_VAR || looksLikePem(environment[v]!)));
  return secretBearing ? 0o600 : 0o644;
}

/** `--uninstall`: bootout (if loaded), then remove the plist (if present); says what it did. */
function uninstall(ctx: CliContext, deps: LaunchdDeps): number {
  const target = plistPath(DAEMON_LABEL, deps.launchDaemonsDir);
  const service = `system/${DAEMON_LABEL}`;
  const loaded = deps.launchctl(['print', service]).code === 0;
  if (loaded) {
    const out = deps.launchctl(['bootout', service]);
    if (out.code !== 0) {
      const why = (out.stderr || out.stdout).trim();
      throw new ExitError(1, [`launchctl bootout ${service} failed (exit ${out.code})${why ? `: ${why}` : ''}${deps.uid !== 0 ? '; run it with sudo' : ''}`]);
    }
    println(ctx.stdout, `unloaded ${service} (launchctl bootout): the daemon finished its tick and stopped`);
  } else {
    println(ctx.stdout, `${service} was not loaded`);
  }
  if (existsSync(target)) {
    try {
      deps.removeFile(target);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new ExitError(1, [`cannot remove ${target}: ${code ?? (err as Error).message}${code === 'EACCES' || code === 'EPERM' ? '; run it with sudo' : ''}`]);
    }
    println(ctx.stdout, `removed ${target}`);
  } else {
    println(ctx.stdout, `${target} was not installed`);
  }
  println(ctx.stdout, `left in place: VMs and runners (\`tart-fleet teardown\`), logs in ${DEFAULT_LOG_DIR}, pipeline.yml and the secret files`);
  return 0;
}

/** `--status`: installed? loaded? and launchd's own state, pid and last exit code. Exit 0 when running, 3 otherwise. */
function status(ctx: CliContext, deps: LaunchdDeps): number {
  const target = plistPath(DAEMON_LABEL, deps.launchDaemonsDir);
  const service = `system/${DAEMON_LABEL}`;
  const installed = existsSync(target);
  println(ctx.stdout, `plist:   ${installed ? `installed (${target})` : `not installed (${target} does not exist)`}`);
  const out = deps.launchctl(['print', service]);
  if (out.code !== 0) {
    println(ctx.stdout, `service: not loaded (launchctl print ${service} exit ${out.code})${installed ? `; load it: sudo launchctl bootstrap system ${target}` : ''}`);
    return 3;
  }
  const field = (name: string) => new RegExp(`^\\s*${name} = (.+)$`, 'm').exec(out.stdout)?.[1]?.trim();
  const state = field('state') ?? 'unknown';
  println(ctx.stdout, `service: loaded (${service}), state ${state}, pid ${field('pid') ?? 'none'}, last exit code ${field('last exit code') ?? 'none'}`);
  println(ctx.stdout, `logs:    ${daemonLogFile()} (rotated: tart-fleet1.log, …; crashes in tart-fleet.err.log)`);
  return state === 'running' ? 0 : 3;
}

/** The environment written into the plist; adds a warning for every secret it leaves out. */
function daemonEnvironment(ctx: CliContext, user: string, deps: LaunchdDeps, warnings: string[], refusals: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of Object.keys(ctx.env).sort()) {
    const value = ctx.env[name];
    if (value === undefined || value === '' || name === 'TART_FLEET_CONFIG') continue;
    if ((INLINE_SECRET_VARS as readonly string[]).includes(name)) {
      const fileVar = FILE_VAR_FOR[name as (typeof INLINE_SECRET_VARS)[number]];
      warnings.push(
        `${name} is set in this shell; its value is not copied into the plist (every user can read it): ` +
          `put it in a file only ${user} can read (chmod 600) and set ${fileVar}=<that path>`,
      );
    } else if (name === APP_KEY_VAR) {
      if (looksLikePem(value)) {
        warnings.push(`${APP_KEY_VAR} holds the key itself; its value is not copied into the plist: save it as a .pem file only ${user} can read and set ${APP_KEY_VAR}=<that path>`);
      } else {
        out[name] = checkedSecretFile(name, resolve(ctx.cwd, value), deps, warnings, refusals);
      }
    } else if ((SECRET_FILE_VARS as readonly string[]).includes(name)) {
      out[name] = checkedSecretFile(name, resolve(ctx.cwd, value), deps, warnings, refusals);
    } else if (COPIED_VARS.has(name)) {
      out[name] = value;
    }
  }
  return out;
}

function checkedSecretFile(name: string, path: string, deps: LaunchdDeps, warnings: string[], refusals: string[]): string {
  const mode = deps.statMode(path);
  if (mode === undefined) {
    warnings.push(`${name}: ${path} does not exist; the daemon cannot authenticate until it does`);
  } else if (isLooseMode(mode)) {
    refusals.push(looseModeMessage(name, path, mode));
  }
  return path;
}

function installInstructions(target: string, user: string, configPath: string, logDir: string, isRoot: boolean, mode: number): string[] {
  const service = `system/${DAEMON_LABEL}`;
  const q = shellQuote;
  return [
    `wrote ${target} (mode ${mode.toString(8).padStart(4, '0')}): runs \`tart-fleet run --config ${configPath}\` as ${user}`,
    'next, as an administrator:',
    ...(isRoot ? [] : [`  sudo chown root:wheel ${q(target)}          # launchd ignores a daemon plist not owned by root`]),
    `  sudo install -d -o ${q(user)} -m 0755 ${q(logDir)}          # the daemon writes tart-fleet.log here, rotated at 10 MB (5 kept)`,
    `  sudo launchctl bootstrap system ${q(target)}`,
    'check it:',
    `  sudo launchctl print ${service}`,
    `  tail -F ${q(daemonLogFile(logDir))}          # -F follows the file across rotations`,
    'restart it (after editing pipeline.yml or upgrading tart-fleet):',
    `  sudo launchctl kickstart -k ${service}`,
    'stop and unload it (do this before installing again: bootstrap fails while it is loaded):',
    `  sudo launchctl bootout ${service}`,
  ];
}

/** Writes atomically (temp file + rename) so launchd never reads half a plist; `mode` regardless of umask. */
function writePlist(path: string, text: string, mode: number): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, path);
}

function nonEmpty(s: string | undefined): string | undefined {
  return s === undefined || s === '' ? undefined : s;
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

