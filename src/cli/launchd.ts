/**
 * `tart-fleet launchd`: prints the LaunchDaemon plist that runs `tart-fleet run` on this Mac, or with
 * `--install` writes it to /Library/LaunchDaemons and prints the `launchctl` commands to load it.
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
 *   `_FILE` variable to use instead (see src/launchd/secrets.ts).
 * - `--install` needs root, and `sudo` drops the environment by default: document `sudo -E`, and
 *   refuse to install a daemon that would have no GitHub credentials (it would restart every 30 s).
 * - Under sudo, USER is root; SUDO_USER is the person who owns ~/.tart. tart must not run as root.
 * - The config loader rejects unknown TART_FLEET_* variables and does not know the `_FILE` ones yet,
 *   so they are taken out of the environment it sees (harmless once it does know them).
 */
import { chmodSync, existsSync, mkdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { loadConfig, resolveConfigPath } from '../config/load.js';
import { ENV_SETTINGS, PACKAGE_ROOT } from '../config/schema.js';
import { DAEMON_LABEL, DEFAULT_LOG_DIR, LAUNCH_DAEMONS_DIR, plistPath, renderDaemonPlist } from '../launchd/plist.js';
import { APP_KEY_VAR, FILE_VAR_FOR, INLINE_SECRET_VARS, SECRET_FILE_VARS, looksLikePem } from '../secrets/secret-files.js';
import { ExitError, println, type CliContext } from './context.js';

export interface LaunchdOptions {
  config?: string;
  install?: boolean;
  user?: string;
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
  /** Writes the plist with mode 0644. */
  writePlist: (path: string, text: string) => void;
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
  };
}

export function runLaunchd(ctx: CliContext, opts: LaunchdOptions, deps: LaunchdDeps): number {
  const warnings: string[] = [];
  const configPath = resolveConfigPath({ path: opts.config, env: ctx.env, cwd: ctx.cwd });
  // Load it the way the daemon will: from its own directory. A ConfigError ends the command (exit 2).
  const { config } = loadConfig({
    path: configPath,
    env: withoutFileVars(ctx.env),
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
  const homeDir = user === deps.currentUser.username ? deps.currentUser.homedir : `/Users/${user}`;

  const environment = daemonEnvironment(ctx, user, deps, warnings);
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
    environment,
  });
  for (const w of warnings) println(ctx.stderr, `warn: ${w}`);

  if (!opts.install) {
    ctx.stdout.write(xml);
    return 0;
  }
  const target = plistPath(DAEMON_LABEL, deps.launchDaemonsDir);
  try {
    deps.writePlist(target, xml);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const hint = code === 'EACCES' || code === 'EPERM' ? '; run it with sudo -E (which keeps the TART_FLEET_* variables)' : '';
    throw new ExitError(1, [`cannot write ${target}: ${code ?? (err as Error).message}${hint}`]);
  }
  for (const line of installInstructions(target, user, configPath, deps.uid === 0)) println(ctx.stdout, line);
  return 0;
}

/** The environment written into the plist; adds a warning for every secret it leaves out. */
function daemonEnvironment(ctx: CliContext, user: string, deps: LaunchdDeps, warnings: string[]): Record<string, string> {
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
        out[name] = checkedSecretFile(name, resolve(ctx.cwd, value), deps, warnings);
      }
    } else if ((SECRET_FILE_VARS as readonly string[]).includes(name)) {
      out[name] = checkedSecretFile(name, resolve(ctx.cwd, value), deps, warnings);
    } else if (COPIED_VARS.has(name)) {
      out[name] = value;
    }
  }
  return out;
}

function checkedSecretFile(name: string, path: string, deps: LaunchdDeps, warnings: string[]): string {
  const mode = deps.statMode(path);
  if (mode === undefined) {
    warnings.push(`${name}: ${path} does not exist; the daemon cannot authenticate until it does`);
  } else if ((mode & 0o077) !== 0) {
    warnings.push(`${name}: ${path} can be read by other users (mode ${(mode & 0o777).toString(8).padStart(4, '0')}); chmod 600 it`);
  }
  return path;
}

function installInstructions(target: string, user: string, configPath: string, isRoot: boolean): string[] {
  const service = `system/${DAEMON_LABEL}`;
  const q = shellQuote;
  return [
    `wrote ${target} (mode 0644): runs \`tart-fleet run --config ${configPath}\` as ${user}`,
    'next, as an administrator:',
    ...(isRoot ? [] : [`  sudo chown root:wheel ${q(target)}          # launchd ignores a daemon plist not owned by root`]),
    `  sudo install -d -o ${q(user)} -m 0755 ${q(DEFAULT_LOG_DIR)}`,
    `  sudo launchctl bootstrap system ${q(target)}`,
    'check it:',
    `  sudo launchctl print ${service}`,
    `  tail -f ${q(join(DEFAULT_LOG_DIR, 'tart-fleet.log'))}`,
    'restart it (after editing pipeline.yml or upgrading tart-fleet):',
    `  sudo launchctl kickstart -k ${service}`,
    'stop and unload it (do this before installing again: bootstrap fails while it is loaded):',
    `  sudo launchctl bootout ${service}`,
  ];
}

/** Writes atomically (temp file + rename) so launchd never reads half a plist; 0644 regardless of umask. */
function writePlist(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text, { mode: 0o644 });
  chmodSync(tmp, 0o644);
  renameSync(tmp, path);
}

function withoutFileVars(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const copy = { ...env };
  for (const v of SECRET_FILE_VARS) delete copy[v];
  return copy;
}

function nonEmpty(s: string | undefined): string | undefined {
  return s === undefined || s === '' ? undefined : s;
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

