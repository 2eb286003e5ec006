/**
 * Renders the launchd plist that runs `tart-fleet run` on a Mac, in one of two modes. Pure: every
 * input (node path, bin path, user, environment) is passed in, so the committed examples in
 * launchd/ are reproducible.
 *
 * - `agent` (the default install): a LaunchAgent in `~/Library/LaunchAgents`, bootstrapped into
 *   the user's GUI domain `gui/<uid>`, `LimitLoadToSessionType` Aqua. Virtualization.framework
 *   starts a macOS 15+ guest only for a user with an unlocked login keychain (tart FAQ, "Headless
 *   machines"; tart #921, #1132), which a GUI login (automatic login on a fleet Mac) gives and a
 *   LaunchDaemon does not. What working Tart fleets ship (Bun's darwin-ci: a LaunchAgent in the
 *   auto-login user's session, `LimitLoadToSessionType` Aqua, `ProcessType` Interactive; GitLab
 *   Runner's docs: a user LaunchAgent with automatic login). No `UserName`: a per-user agent runs
 *   as its owner. A logout tears the agent down; a screen lock does not (tart #1075).
 * - `daemon`: the LaunchDaemon in /Library/LaunchDaemons with `UserName`, kept for hosts that run
 *   only Linux or macOS ≤ 14 guests (no login session, so no keychain: `validate` FAILs it with a
 *   macOS 15+ image).
 *
 * ## Gotchas
 * - `ProgramArguments` starts with the absolute `node` and the absolute bin script, never `npx`:
 *   npx does not forward SIGTERM, so launchd's stop would orphan the daemon (facts §13).
 * - A plist in /Library/LaunchDaemons is world-readable: secrets go in by file path only. The
 *   renderer refuses an inline secret variable or PEM text even if a caller passes one.
 * - Strings are XML-escaped by the `plist` package (`&`, `<`); paths and user names may hold them.
 * - launchd does not run a shell: no `~`, no `$VAR` expansion, so every path must be absolute.
 * - `ExitTimeOut` is how long launchd waits after SIGTERM before SIGKILL; the daemon finishes the
 *   tick in flight first, which can include a clone and an SSH session.
 * - Node runs with `DAEMON_NODE_FLAGS` (the simulated world starts the daemon with the same flags):
 *   - `--max-semi-space-size=2`: V8's young generation may otherwise grow to 16 MB per semi-space
 *     under a steady stream of small HTTP responses, which is most of the daemon's resident memory at
 *     1,000 repositories (measured: ~145 MB RSS with the default, ~90 MB with 2 MB; CPU per tick
 *     unchanged within noise).
 *   - `--no-memory-reducer`: V8's memory reducer runs full garbage collections whenever allocation
 *     stops, i.e. in every 15-second pause between ticks, and shrinks the heap that the next tick
 *     grows again. Measured with the GitHub adapter alone at 1,000 repositories, a tick every 15 s,
 *     both variants side by side: ~85 → ~55 ms of CPU a tick, RSS +3 MB (issue #21).
 * - Logs: launchd opens `StandardOutPath` itself and holds it for the daemon's life, so renaming it
 *   (newsyslog) would not rotate it without a restart. The daemon therefore writes its log itself,
 *   `run --log-file <logDir>/tart-fleet.log`, rotated by size in-process (adapters/logger.ts), and
 *   stdout goes to /dev/null (it carries the same lines). `StandardErrorPath` stays a file: nothing
 *   is logged to stderr, so it holds only what node prints when it dies (a crash's stack trace).
 */
import { posix } from 'node:path';
import { build, type PlistValue } from 'plist';
import { APP_KEY_VAR, FILE_VAR_FOR, INLINE_SECRET_VARS, looksLikePem } from '../secrets/secret-files.js';

export const DAEMON_LABEL = 'dev.tart-fleet.daemon';
/** The LaunchAgent's label (the default install). */
export const AGENT_LABEL = 'dev.tart-fleet.agent';
export type LaunchdMode = 'agent' | 'daemon';
/** Node flags of the daemon, in the plist and in the simulated world (see the header). */
export const DAEMON_NODE_FLAGS = ['--max-semi-space-size=2', '--no-memory-reducer'];
export const DEFAULT_LOG_DIR = '/Library/Logs/tart-fleet';
export const LAUNCH_DAEMONS_DIR = '/Library/LaunchDaemons';
/** Homebrew (Apple Silicon) first: that is where `brew install cirruslabs/cli/tart` puts tart. */
export const DEFAULT_PATH = '/opt/homebrew/bin:/opt/homebrew/sbin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin';

export interface DaemonSpec {
  /** `agent` (a LaunchAgent in the user's GUI session) or `daemon` (a LaunchDaemon). Default `daemon`. */
  mode?: LaunchdMode;
  /** launchd label; also the plist's file name. Default AGENT_LABEL or DAEMON_LABEL by mode. */
  label?: string;
  /**
   * Start node with `--use-system-ca` (trust the macOS keychain's CAs too): only a node that has
   * the flag (22.15 / 23.8 and later; the caller asks `process.allowedNodeEnvironmentFlags`).
   */
  useSystemCa?: boolean;
  /** Absolute path of the node executable (process.execPath of the installing shell). */
  nodePath: string;
  /** Absolute path of this package's bin/tart-fleet.js. */
  binPath: string;
  /** Absolute path of pipeline.yml; its directory becomes the WorkingDirectory. */
  configPath: string;
  /** The user owning ~/.tart: tart must run as them, never as root. */
  userName: string;
  /** That user's home directory (HOME; tart keeps its VMs in $HOME/.tart). */
  homeDir: string;
  /** Where the daemon's rotated log (tart-fleet.log) and launchd's stderr file go. Default DEFAULT_LOG_DIR. */
  logDir?: string;
  /** Seconds launchd waits between restarts. Default 30. */
  throttleIntervalSeconds?: number;
  /** Seconds between SIGTERM and SIGKILL on stop. Default 120. */
  exitTimeoutSeconds?: number;
  /** Extra environment: non-secret settings and secret *file paths*. PATH/HOME/TART_FLEET_CONFIG are set here. */
  environment?: Record<string, string>;
}

/** The plist as an object, keys in the order they are written. */
export function daemonPlistObject(spec: DaemonSpec): Record<string, PlistValue> {
  const agent = spec.mode === 'agent';
  const label = spec.label ?? (agent ? AGENT_LABEL : DAEMON_LABEL);
  const logDir = spec.logDir ?? (agent ? agentLogDir(spec.homeDir) : DEFAULT_LOG_DIR);
  for (const [what, path] of [
    ['nodePath', spec.nodePath],
    ['binPath', spec.binPath],
    ['configPath', spec.configPath],
    ['homeDir', spec.homeDir],
    ['logDir', logDir],
  ] as const) {
    if (!posix.isAbsolute(path)) throw new Error(`${what}: must be an absolute path (launchd expands nothing), got ${JSON.stringify(path)}`);
  }
  if (/(^|\/)npx$/.test(spec.nodePath) || /(^|\/)npx(-cli\.js)?$/.test(spec.binPath)) {
    throw new Error('npx does not forward SIGTERM; run node and the bin script directly');
  }
  if (spec.userName === '') throw new Error('userName: must not be empty');
  if (!/^[A-Za-z0-9._-]+$/.test(label)) throw new Error(`label: ${JSON.stringify(label)} is not a reverse-DNS name`);
  const extra = spec.environment ?? {};
  for (const name of Object.keys(extra)) {
    if ((INLINE_SECRET_VARS as readonly string[]).includes(name)) {
      const fileVar = FILE_VAR_FOR[name as (typeof INLINE_SECRET_VARS)[number]];
      throw new Error(`${name}: a secret's value never goes into a plist; pass its file path as ${fileVar}`);
    }
  }
  const appKey = extra[APP_KEY_VAR];
  if (appKey !== undefined && (looksLikePem(appKey) || !posix.isAbsolute(appKey))) {
    throw new Error(`${APP_KEY_VAR}: in a plist it must be the absolute path of the .pem file, not the key itself`);
  }

  const environment: Record<string, string> = {};
  // Sorted so that the same inputs always give the same bytes (the committed example relies on it).
  const merged: Record<string, string> = {
    ...extra,
    PATH: pathWith(posix.dirname(spec.nodePath), extra.PATH ?? DEFAULT_PATH),
    HOME: spec.homeDir,
    TART_FLEET_CONFIG: spec.configPath,
  };
  for (const key of Object.keys(merged).sort()) environment[key] = merged[key]!;

  const nodeFlags = [...DAEMON_NODE_FLAGS, ...(spec.useSystemCa ? ['--use-system-ca'] : [])];
  return {
    Label: label,
    ProgramArguments: [spec.nodePath, ...nodeFlags, spec.binPath, 'run', '--config', spec.configPath, '--log-file', daemonLogFile(logDir)],
    // A per-user agent runs as the user whose domain it is loaded into; UserName is for daemons.
    ...(agent ? {} : { UserName: spec.userName }),
    WorkingDirectory: posix.dirname(spec.configPath),
    EnvironmentVariables: environment,
    RunAtLoad: true,
    KeepAlive: true,
    // Aqua: only in a GUI login session (launchd.plist(5)), where the login keychain is unlocked.
    ...(agent ? { LimitLoadToSessionType: 'Aqua' } : {}),
    ThrottleInterval: spec.throttleIntervalSeconds ?? 30,
    ExitTimeOut: spec.exitTimeoutSeconds ?? 120,
    // Interactive for the agent, as Bun's fleet: no background throttling of a process that boots VMs.
    ProcessType: agent ? 'Interactive' : 'Standard',
    StandardOutPath: '/dev/null',
    StandardErrorPath: posix.join(logDir, 'tart-fleet.err.log'),
  };
}

/** The agent's log directory: the user's own, so installing needs no sudo. */
export function agentLogDir(homeDir: string): string {
  return posix.join(homeDir, 'Library', 'Logs', 'tart-fleet');
}

/** Where a user's LaunchAgents live (loaded by launchd at that user's login). */
export function launchAgentsDir(homeDir: string): string {
  return posix.join(homeDir, 'Library', 'LaunchAgents');
}

/** The daemon's own log file in a log directory (rotated as tart-fleet1.log, tart-fleet2.log, …). */
export function daemonLogFile(logDir = DEFAULT_LOG_DIR): string {
  return posix.join(logDir, 'tart-fleet.log');
}

// XML comments may not contain "--", so the option is not spelled out.
const GENERATED_NOTE = '<!-- Generated by `tart-fleet launchd`: re-run it rather than editing this file. -->';

/** The plist XML, with a comment saying where it came from. */
export function renderDaemonPlist(spec: DaemonSpec): string {
  const xml = build(daemonPlistObject(spec), { pretty: true, indent: '  ', newline: '\n' });
  // The comment goes after the DOCTYPE, where XML allows it; launchd and plist.parse ignore it.
  const lines = xml.split('\n');
  const doctype = lines.findIndex((l) => l.startsWith('<!DOCTYPE'));
  lines.splice(doctype + 1, 0, GENERATED_NOTE);
  return `${lines.join('\n').trimEnd()}\n`;
}

/** The plist's path for a label, in a LaunchDaemons directory. */
export function plistPath(label = DAEMON_LABEL, dir = LAUNCH_DAEMONS_DIR): string {
  return posix.join(dir, `${label}.plist`);
}

/** `dir` first unless PATH already has it, so the daemon's own `node` children find the same node. */
function pathWith(dir: string, path: string): string {
  const parts = path.split(':').filter((p) => p !== '');
  return parts.includes(dir) ? parts.join(':') : [dir, ...parts].join(':');
}

/**
 * The install both committed examples describe: an npm-global install under Homebrew's node, user
 * `ci`, GitHub App auth and the SSH password by file.
 */
const EXAMPLE_INSTALL = {
  nodePath: '/opt/homebrew/bin/node',
  binPath: '/opt/homebrew/lib/node_modules/tart-fleet/bin/tart-fleet.js',
  configPath: '/Users/ci/tart-fleet/pipeline.yml',
  userName: 'ci',
  homeDir: '/Users/ci',
} as const;
const EXAMPLE_SECRETS_ENV = {
  TART_FLEET_GITHUB_APP_ID: '123456',
  TART_FLEET_GITHUB_APP_INSTALLATION_ID: '7654321',
  TART_FLEET_GITHUB_APP_PRIVATE_KEY: '/Users/ci/.tart-fleet/app.pem',
  TART_FLEET_SSH_PASSWORD_FILE: '/Users/ci/.tart-fleet/ssh-password',
} as const;

/**
 * The fixed inputs of the committed agent example, launchd/dev.tart-fleet.agent.plist: the same
 * install as EXAMPLE_SPEC, as the default LaunchAgent, behind an office proxy with a private CA.
 */
export const EXAMPLE_AGENT_SPEC: DaemonSpec = {
  mode: 'agent',
  ...EXAMPLE_INSTALL,
  environment: {
    HTTPS_PROXY: 'http://proxy.example.com:3128',
    NODE_EXTRA_CA_CERTS: '/Users/ci/.tart-fleet/company-ca.pem',
    NO_PROXY: 'localhost,127.0.0.1',
    ...EXAMPLE_SECRETS_ENV,
  },
};

/**
 * The fixed inputs of the committed example, launchd/dev.tart-fleet.daemon.plist: an npm-global
 * install under Homebrew's node, user `ci`, GitHub App auth and the SSH password by file.
 * test/launchd checks the file equals renderDaemonPlist(EXAMPLE_SPEC).
 */
export const EXAMPLE_SPEC: DaemonSpec = {
  mode: 'daemon',
  ...EXAMPLE_INSTALL,
  environment: { ...EXAMPLE_SECRETS_ENV },
};
