/**
 * `tart-fleet launchd`: prints the launchd plist that runs `tart-fleet run` on this Mac. Two modes
 * (src/launchd/plist.ts says why):
 * - `--mode agent` (the default): a LaunchAgent for this user's GUI session. `--install` (as that
 *   user, no sudo) writes ~/Library/LaunchAgents/dev.tart-fleet.agent.plist and bootstraps it into
 *   `gui/<uid>`; `--uninstall` boots it out and removes it; `--status` reads
 *   `launchctl print gui/<uid>/dev.tart-fleet.agent`.
 * - `--mode daemon`: the LaunchDaemon, for hosts running only Linux or macOS ≤ 14 guests.
 *   `--install` (sudo -E) writes /Library/LaunchDaemons/dev.tart-fleet.daemon.plist and prints the
 *   `launchctl` commands to load it; `--uninstall`/`--status` act on `system/<label>`.
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
 * - Corporate networks: HTTPS_PROXY/HTTP_PROXY/ALL_PROXY/NO_PROXY (either case) and
 *   NODE_EXTRA_CA_CERTS are carried into the plist (the transport reads them; launchd gives a job
 *   nothing of the shell's environment). A proxy URL with a password in it is a secret: left out,
 *   and named. Every variable of this shell that matters and is not carried is named with why.
 * - The macOS keychain's CAs: node's `--use-system-ca` goes into the plist when this node has it
 *   (22.15 / 23.8 and later); Node 20 has no way to read the keychain (NODE_EXTRA_CA_CERTS then).
 * - Registry credentials: never `tart login` (it writes the keychain, and fails headless with
 *   -25308, tart FAQ); tart reads TART_REGISTRY_USERNAME/PASSWORD from the environment of whoever
 *   pulls an image. The daemon pulls nothing (it clones a local golden image), so they stay out.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { loadConfig, resolveConfigPath } from '../config/load.js';
import { ENV_SETTINGS } from '../config/schema.js';
import { PACKAGE_ROOT } from '../config/package.js';
import { AGENT_LABEL, DAEMON_LABEL, DEFAULT_LOG_DIR, LAUNCH_DAEMONS_DIR, agentLogDir, daemonLogFile, launchAgentsDir, plistPath, renderDaemonPlist, type LaunchdMode } from '../launchd/plist.js';
import { APP_KEY_VAR, FILE_VAR_FOR, INLINE_SECRET_VARS, SECRET_FILE_VARS, SECRET_VALUE_VARS, isLooseMode, looksLikePem, looseModeMessage } from '../secrets/secret-files.js';
import type { Config } from '../config/types.js';
import { ExitError, platformOf, println, type CliContext } from './context.js';
import { daemonModeImageChecks } from './launchd-mode-checks.js';

export interface LaunchdOptions {
  config?: string;
  install?: boolean;
  uninstall?: boolean;
  status?: boolean;
  user?: string;
  /** Where the daemon writes its rotated log (absolute; default ~/Library/Logs/tart-fleet for the agent, /Library/Logs/tart-fleet for the daemon). */
  logDir?: string;
  /** `agent` (default: a LaunchAgent in the user's GUI session) or `daemon` (a LaunchDaemon). */
  mode?: LaunchdMode;
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
  /** Whether the node that will run the daemon has `--use-system-ca` (the macOS keychain's CAs). */
  nodeHasSystemCa: boolean;
  /** Creates a directory the user owns (the agent's log dir). */
  makeDir: (path: string) => void;
}

const PROXY_VARS = ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'ALL_PROXY', 'all_proxy', 'NO_PROXY', 'no_proxy'];

/** Variables copied into the plist as they are: settings, not secrets. */
const COPIED_VARS = new Set<string>([
  ...ENV_SETTINGS.map((s) => s.variable),
  'TART_FLEET_GITHUB_APP_ID',
  'TART_FLEET_GITHUB_APP_INSTALLATION_ID',
  'TART_FLEET_TART_BIN',
  'TART_FLEET_LOG_LEVEL',
  'TART_HOME',
  // An alias of TART_FLEET_GITHUB_API_URL (config/env-aliases.ts): the daemon must see what validate saw.
  'GITHUB_API_URL',
  // What the GitHub transport reads on a corporate network (adapters/github-transport.ts).
  ...PROXY_VARS,
  'NODE_EXTRA_CA_CERTS',
]);

/** Variables of this shell that matter to someone and are not carried, with why. */
const LEFT_OUT_VARS: Record<string, string> = {
  NODE_OPTIONS: 'the plist gives node its flags itself',
  NODE_USE_ENV_PROXY: "tart-fleet's transport reads the proxy variables itself; Node's own env proxy is not used",
  NODE_USE_SYSTEM_CA: 'the plist passes --use-system-ca where this node has it',
  SSL_CERT_FILE: 'Node does not read it (only with --use-openssl-ca); use NODE_EXTRA_CA_CERTS',
  SSL_CERT_DIR: 'Node does not read it (only with --use-openssl-ca); use NODE_EXTRA_CA_CERTS',
  TART_REGISTRY_USERNAME: 'registry credentials are for whoever pulls an image; the daemon only clones a local golden image',
  TART_REGISTRY_PASSWORD: 'a secret, and the daemon pulls nothing (it clones a local golden image)',
};

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
    nodeHasSystemCa: process.allowedNodeEnvironmentFlags.has('--use-system-ca'),
    makeDir: (path) => mkdirSync(path, { recursive: true }),
  };
}

export function runLaunchd(ctx: CliContext, opts: LaunchdOptions, deps: LaunchdDeps): number {
  const modes = [opts.install, opts.uninstall, opts.status].filter(Boolean).length;
  if (modes > 1) throw new ExitError(2, ['--install, --uninstall and --status: give at most one']);
  const mode: LaunchdMode = opts.mode ?? 'agent';
  if (mode !== 'agent' && mode !== 'daemon') throw new ExitError(2, [`--mode: ${JSON.stringify(mode)} is not agent or daemon`]);
  const platform = platformOf(ctx);
  if ((opts.install || opts.uninstall || opts.status) && platform !== 'darwin') {
    const flag = opts.install ? '--install' : opts.uninstall ? '--uninstall' : '--status';
    throw new ExitError(2, [`launchd ${flag}: not a Mac (${platform}): launchd agents and daemons exist only on macOS. \`tart-fleet launchd\` without flags prints the plist to inspect.`]);
  }
  const agent = mode === 'agent' ? agentService(deps) : undefined;
  if (opts.uninstall) return agent ? uninstallAgent(ctx, deps, agent) : uninstall(ctx, deps);
  if (opts.status) return agent ? statusAgent(ctx, deps, agent) : status(ctx, deps);
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
  if (agent && opts.install && (deps.uid === 0 || user !== deps.currentUser.username)) {
    throw new ExitError(2, [
      `launchd --install (agent): run it as ${user} itself, without sudo: a LaunchAgent lives in that user's ~/Library/LaunchAgents and is loaded into that user's GUI session (gui/<uid>). ` +
        '(For a LaunchDaemon, which cannot start macOS 15+ guests, pass --mode daemon.)',
    ]);
  }
  if (opts.install && !deps.userExists(user)) {
    throw new ExitError(2, [`--user: there is no user ${JSON.stringify(user)} on this Mac; create it first (System Settings → Users & Groups) or pass --user NAME`]);
  }
  const homeDir = user === deps.currentUser.username ? deps.currentUser.homedir : `/Users/${user}`;
  const logDir = opts.logDir !== undefined ? resolve(ctx.cwd, opts.logDir) : agent ? agentLogDir(homeDir) : DEFAULT_LOG_DIR;

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
  if (!existsSync(binPath)) throw new ExitError(1, [`${binPath}: not found; is tart-fleet installed (npm ci in a clone, or npm install -g of the tarball npm pack makes; it is not on npm)?`]);
  if (!existsSync(join(deps.packageRoot, 'dist', 'main.js'))) {
    warnings.push(`${join(deps.packageRoot, 'dist')} is not built: the daemon cannot start until \`npm run build\` (npm ci does it) has run there`);
  }

  if (!agent) warnings.push(...daemonModeWarnings(config));
  const xml = renderDaemonPlist({
    mode,
    useSystemCa: deps.nodeHasSystemCa,
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
  if (agent) return installAgent(ctx, deps, agent, xml, environment, logDir);
  const target = plistPath(DAEMON_LABEL, deps.launchDaemonsDir);
  const fileMode = plistMode(environment);
  try {
    deps.writePlist(target, xml, fileMode);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const hint = code === 'EACCES' || code === 'EPERM' ? '; run it with sudo -E (which keeps the TART_FLEET_* variables)' : '';
    throw new ExitError(1, [`cannot write ${target}: ${code ?? (err as Error).message}${hint}`]);
  }
  for (const line of installInstructions(target, user, configPath, logDir, deps.uid === 0, fileMode)) println(ctx.stdout, line);
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
    } else if (PROXY_VARS.includes(name) && hasCredentials(value)) {
      warnings.push(`${name} carries a user name or password; it is not copied into the plist (a secret): use a proxy that needs none for this Mac, or add it to the plist yourself in a file only ${user} can read`);
    } else if (name === 'NODE_EXTRA_CA_CERTS') {
      const path = resolve(ctx.cwd, value);
      if (deps.statMode(path) === undefined) warnings.push(`NODE_EXTRA_CA_CERTS: ${path} does not exist; Node will ignore it and GitHub's TLS may fail`);
      out[name] = path;
    } else if (COPIED_VARS.has(name)) {
      out[name] = value;
    } else if (LEFT_OUT_VARS[name] !== undefined) {
      warnings.push(`${name} is set in this shell and is left out of the plist: ${LEFT_OUT_VARS[name]}`);
    }
  }
  return out;
}

/** Whether a proxy URL has a user name or password in it. */
function hasCredentials(url: string): boolean {
  try {
    const u = new URL(url.includes('://') ? url : `http://${url}`);
    return u.username !== '' || u.password !== '';
  } catch {
    return /@/.test(url);
  }
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

interface AgentService {
  uid: number;
  /** `gui/<uid>`: the user's GUI (Aqua) domain. */
  domain: string;
  /** `gui/<uid>/dev.tart-fleet.agent` */
  service: string;
  /** ~/Library/LaunchAgents/dev.tart-fleet.agent.plist */
  plist: string;
}

function agentService(deps: LaunchdDeps): AgentService {
  const domain = `gui/${deps.uid}`;
  return { uid: deps.uid, domain, service: `${domain}/${AGENT_LABEL}`, plist: plistPath(AGENT_LABEL, launchAgentsDir(deps.currentUser.homedir)) };
}

/**
 * `--install` of the agent: write the plist, then (re)load it into this user's GUI domain. A
 * loaded agent is booted out first (bootstrap refuses a loaded service). Without a GUI session
 * (nobody logged in at the console) bootstrap fails: the plist stays, launchd loads it at the
 * user's next login, and the command says so and exits 1.
 */
function installAgent(ctx: CliContext, deps: LaunchdDeps, agent: AgentService, xml: string, environment: Record<string, string>, logDir: string): number {
  const mode = plistMode(environment);
  try {
    deps.makeDir(logDir);
    deps.writePlist(agent.plist, xml, mode);
  } catch (err) {
    throw new ExitError(1, [`cannot write ${agent.plist} or create ${logDir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`]);
  }
  println(ctx.stdout, `wrote ${agent.plist} (mode ${mode.toString(8).padStart(4, '0')})`);
  if (deps.launchctl(['print', agent.service]).code === 0) {
    const out = deps.launchctl(['bootout', agent.service]);
    if (out.code !== 0) throw new ExitError(1, [`launchctl bootout ${agent.service} failed (exit ${out.code}): ${(out.stderr || out.stdout).trim()}`]);
    println(ctx.stdout, `unloaded the running ${agent.service} (launchctl bootout) to load the new plist`);
  }
  const boot = deps.launchctl(['bootstrap', agent.domain, agent.plist]);
  if (boot.code !== 0) {
    throw new ExitError(1, [
      `launchctl bootstrap ${agent.domain} ${agent.plist} failed (exit ${boot.code})${(boot.stderr || boot.stdout).trim() ? `: ${(boot.stderr || boot.stdout).trim()}` : ''}`,
      `${agent.domain} exists only while this user is logged in at the console (a GUI session; an SSH login is not one). ` +
        'Turn on automatic login for this user (System Settings → Users & Groups; FileVault must be off) and restart, or log in at the console: launchd loads the plist at login.',
    ]);
  }
  const q = shellQuote;
  for (const line of [
    `loaded ${agent.service} (launchctl bootstrap ${agent.domain}): it runs \`tart-fleet run\` now and at every login of this user`,
    'check it:',
    `  tart-fleet launchd --status          # or: launchctl print ${agent.service}`,
    `  tail -F ${q(daemonLogFile(logDir))}          # -F follows the file across rotations`,
    'restart it (after editing pipeline.yml or upgrading tart-fleet):',
    `  launchctl kickstart -k ${agent.service}`,
    'what this mode needs (tart-fleet validate checks each): automatic login for this user (FileVault off),',
    '  sleep disabled and restart after power loss (sudo pmset -a sleep 0 autorestart 1), an unlocked login keychain,',
    '  and, for SSH delivery on macOS 15+, the Local Network setting (docs/install-macos.md)',
  ]) println(ctx.stdout, line);
  return 0;
}

function uninstallAgent(ctx: CliContext, deps: LaunchdDeps, agent: AgentService): number {
  if (deps.launchctl(['print', agent.service]).code === 0) {
    const out = deps.launchctl(['bootout', agent.service]);
    if (out.code !== 0) throw new ExitError(1, [`launchctl bootout ${agent.service} failed (exit ${out.code}): ${(out.stderr || out.stdout).trim()}`]);
    println(ctx.stdout, `unloaded ${agent.service} (launchctl bootout): the daemon finished its tick and stopped`);
  } else {
    println(ctx.stdout, `${agent.service} was not loaded`);
  }
  if (existsSync(agent.plist)) {
    try {
      deps.removeFile(agent.plist);
    } catch (err) {
      throw new ExitError(1, [`cannot remove ${agent.plist}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`]);
    }
    println(ctx.stdout, `removed ${agent.plist}`);
  } else {
    println(ctx.stdout, `${agent.plist} was not installed`);
  }
  println(ctx.stdout, `left in place: VMs and runners (\`tart-fleet teardown\`), logs in ${agentLogDir(deps.currentUser.homedir)}, pipeline.yml and the secret files`);
  return 0;
}

function statusAgent(ctx: CliContext, deps: LaunchdDeps, agent: AgentService): number {
  const installed = existsSync(agent.plist);
  println(ctx.stdout, `plist:   ${installed ? `installed (${agent.plist})` : `not installed (${agent.plist} does not exist)`}`);
  const out = deps.launchctl(['print', agent.service]);
  if (out.code !== 0) {
    println(ctx.stdout, `service: not loaded (launchctl print ${agent.service} exit ${out.code})${installed ? `; load it: launchctl bootstrap ${agent.domain} ${agent.plist} (needs this user's GUI session)` : ''}`);
    return 3;
  }
  const field = (name: string) => new RegExp(`^\\s*${name} = (.+)$`, 'm').exec(out.stdout)?.[1]?.trim();
  const state = field('state') ?? 'unknown';
  println(ctx.stdout, `service: loaded (${agent.service}), state ${state}, pid ${field('pid') ?? 'none'}, last exit code ${field('last exit code') ?? 'none'}`);
  println(ctx.stdout, `logs:    ${daemonLogFile(agentLogDir(deps.currentUser.homedir))} (rotated: tart-fleet1.log, …; crashes in tart-fleet.err.log)`);
  return state === 'running' ? 0 : 3;
}

/** Daemon mode and the images: a LaunchDaemon has no login keychain, so no macOS 15+ guest boots. */
function daemonModeWarnings(config: Config): string[] {
  return daemonModeImageChecks(config).filter((r) => r.status !== 'ok').map((r) => `${r.detail}${r.fix ? ` — ${r.fix}` : ''}`);
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

