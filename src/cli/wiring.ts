/**
 * Builds the real adapters for a command from the environment and the config. Secret values are
 * read through src/secrets/secret-files.ts (the one place that knows which variables hold secrets
 * and the `_FILE` convention); each is registered with the log redactor before anything can log it.
 * The logger's format follows `--log-format`, else text on a TTY and JSON otherwise.
 *
 * ## Gotchas
 * - Credentials are checked here, up front: a missing token or SSH password is a usage error
 *   (exit 2) naming the variable, not a failure deep in the first tick.
 */
import type { Config } from '../config/types.js';
import type { LogLevel, Logger } from '../core/logger.js';
import type { Clock, DiskSpace, GitHub, Guest, Tart } from '../core/ports.js';
import { Secrets } from '../secrets/redact.js';
import { createLogger } from '../adapters/logger.js';
import { systemClock } from '../adapters/clock.js';
import { GitHubAdapter, githubAuthFromEnv } from '../adapters/github.js';
import type { GitHubHookProbe } from '../adapters/github-hook.js';
import type { GitHubAccessProbe } from '../adapters/github-access.js';
import type { GitHubFleetProbe } from '../adapters/github-fleet.js';
import { TartAdapter } from '../adapters/tart.js';
import { SshGuest, sshCredentials, type SshCredentials } from '../adapters/ssh.js';
import { DeliveringGuest } from '../daemon/delivery.js';
import { TartExecGuest } from '../adapters/tart-exec-guest.js';
import { StatfsDiskSpace } from '../adapters/disk-space.js';
import { SECRET_VALUE_VARS, expandSecretFiles } from '../secrets/secret-files.js';
import { ExitError, isTTY, tartHomeOf, type CliContext } from './context.js';
import { statePaths } from '../config/paths.js';
import type { Remembered } from '../core/memory.js';
import type { Observed, Plan } from '../core/model.js';
import { plan } from '../core/plan.js';
import type { CacheTool, MemoryStore } from '../core/ports.js';
import { JsonStateFile } from '../adapters/state-file.js';
import { CacheCloneDir } from '../adapters/cache-clone.js';
import { ChildCacheTool } from '../adapters/cache-tool.js';
import { RunLogs } from '../adapters/run-logs.js';
import { HostMemory } from '../daemon/host-memory.js';
import { WorldObserver } from '../daemon/observer.js';
import { Creator } from '../daemon/creator.js';
import { CacheKeeper } from '../daemon/cache-keeper.js';
import { Reconciler } from '../daemon/reconciler.js';
import { JobHistory } from '../daemon/history.js';
import { proofViewOf, readBootProof } from '../daemon/boot-proof.js';
import type { BootProofView } from '../core/proof-gate.js';

export interface Adapters {
  github: GitHub;
  /** Read-only access report for `validate`; undefined when there are no usable credentials. */
  githubAccess: (GitHubAccessProbe & GitHubFleetProbe & GitHubHookProbe) | undefined;
  tart: TartAdapter;
  guest: Guest;
  clock: Clock;
  logger: Logger;
  secrets: Secrets;
  /** Free space where the VMs live ($TART_HOME), for the disk floor. */
  disk: DiskSpace;
  /** The guest when runners are started: it follows the boot proof (daemon/delivery.ts). */
  delivery?: DeliveringGuest;
  /** The guest SSH credentials, when SSH may be used (the boot proof logs in with them). */
  sshCredentials?: SshCredentials;
}

const LEVELS: LogLevel[] = ['debug', 'info', 'warn', 'error'];

export function logLevel(env: NodeJS.ProcessEnv): LogLevel {
  const level = (env.TART_FLEET_LOG_LEVEL ?? 'info').toLowerCase();
  if (!(LEVELS as string[]).includes(level)) throw new ExitError(2, [`TART_FLEET_LOG_LEVEL: must be one of ${LEVELS.join(', ')}`]);
  return level as LogLevel;
}

export function buildLogger(ctx: CliContext, secrets: Secrets): Logger {
  const format = ctx.logFormat ?? (isTTY(ctx.stdout) ? 'text' : 'json');
  return createLogger({ level: logLevel(ctx.env), secrets, stream: ctx.stdout, format, ...(ctx.logFile ? { file: { path: ctx.logFile } } : {}) });
}

export function buildTart(ctx: CliContext, logger: Logger): TartAdapter {
  // The adapter adds its own `component: tart` context.
  return new TartAdapter({ tartBin: ctx.env.TART_FLEET_TART_BIN || 'tart', logger, env: ctx.env });
}

/**
 * `lenient` (for `ls`): missing GitHub credentials give a GitHub port whose every call fails with
 * that message, so the rest of the view still works; otherwise they are a usage error.
 *
 * `sweepState`: `persist` (the daemon keeps its sweep's ETags in `<state_dir>/github-sweep.json`),
 * `read` (`ls --live`: starts from the daemon's, never writes it), or none (a cold sweep).
 */
export function buildAdapters(given: CliContext, config: Config, opts: { needGuest: boolean; lenient?: boolean; sweepState?: 'persist' | 'read' }): Adapters {
  const ctx = { ...given, env: secretEnv(given) };
  const secrets = new Secrets();
  for (const name of SECRET_VALUE_VARS) secrets.add(ctx.env[name]);
  const logger = buildLogger(ctx, secrets);
  const tart = buildTart(ctx, logger);
  const disk = new StatfsDiskSpace(tartHomeOf(ctx));
  let auth;
  try {
    auth = githubAuthFromEnv(ctx.env);
  } catch (err) {
    if (!opts.lenient) throw new ExitError(2, [(err as Error).message]);
    return { github: unavailableGitHub((err as Error).message), githubAccess: undefined, tart, guest: noGuest, clock: systemClock, logger, secrets, disk };
  }
  if (auth.kind === 'app') secrets.add(auth.privateKey);
  else secrets.add(auth.token);
  const github = new GitHubAdapter({
    apiUrl: config.github.api_url,
    org: config.github.org,
    auth,
    repositories: config.github.repositories,
    logger: logger.child({ component: 'github' }),
    secrets,
    pollSeconds: config.host.poll_seconds,
    maxRequestsPerMinute: config.github.max_requests_per_minute,
    // The event feed (docs/event-feed.md): an org webhook, or the App's own.
    ...(config.github.hook_id !== undefined ? { hook: { kind: 'org' as const, hookId: config.github.hook_id } } : config.github.app_hook ? { hook: { kind: 'app' as const } } : {}),
    // Only the daemon writes the sweep's state; a second process writing would race it.
    ...(opts.sweepState ? { sweepStateFile: statePaths(config.host).githubSweep, sweepStateReadOnly: opts.sweepState === 'read' } : {}),
    ...(ctx.githubProbeTimeoutMs !== undefined ? { requestTimeoutMs: ctx.githubProbeTimeoutMs, retry: { retries: 0 } } : {}),
  });
  let guest: Guest = noGuest;
  let delivery: DeliveringGuest | undefined;
  let credentials: SshCredentials | undefined;
  if (opts.needGuest) {
    // `tart exec` (tart's control socket and the guest agent: no SSH credentials, no network) is
    // always at hand: `exec` pins it, the default `ssh` falls back on it when the boot proof finds
    // SSH blocked (daemon/delivery.ts).
    const exec = new TartExecGuest({ tart, runnerCommand: config.vm.runner_command, logger });
    let ssh: SshGuest | undefined;
    if (config.vm.runner_delivery !== 'exec') {
      try {
        credentials = sshCredentials(ctx.env, config.vm);
      } catch (err) {
        throw new ExitError(2, [(err as Error).message]);
      }
      secrets.add(credentials.privateKey);
      ssh = new SshGuest({
        user: config.vm.ssh_user,
        port: config.vm.ssh_port,
        ...credentials,
        hostKey: config.vm.ssh_host_key,
        runnerCommand: config.vm.runner_command,
        logger: logger.child({ component: 'ssh' }),
      });
    }
    guest = delivery = new DeliveringGuest({ mode: config.vm.runner_delivery, ssh, exec, logger: logger.child({ component: 'delivery' }) });
  }
  return { github, githubAccess: github, tart, guest, clock: systemClock, logger, secrets, disk, ...(delivery ? { delivery } : {}), ...(credentials ? { sshCredentials: credentials } : {}) };
}

const noGuest: Guest = { launchRunner: () => Promise.reject(new Error('this command starts no runners')) };

function unavailableGitHub(message: string): GitHub {
  const fail = () => Promise.reject(new Error(message));
  return { listJobs: fail, listRunners: fail, getJob: fail, createJitRunner: fail, deleteRunner: fail };
}

/**
 * The environment with secrets given as files (`TART_FLEET_GITHUB_TOKEN_FILE`,
 * `TART_FLEET_SSH_PASSWORD_FILE`, as the LaunchDaemon passes them) read into the variables the
 * adapters know. Only the commands that use secret values call this; `launchd` needs the paths.
 */
export function secretEnv(ctx: CliContext): NodeJS.ProcessEnv {
  try {
    return expandSecretFiles(ctx.env);
  } catch (err) {
    throw new ExitError(2, [(err as Error).message]);
  }
}

/**
 * The context for commands that print a view rather than a log (`ls`, `validate`, `teardown`):
 * adapters log errors only, and to stderr, so stdout stays the command's own output.
 */
export function quietContext(ctx: CliContext): CliContext {
  return { ...ctx, env: { ...ctx.env, TART_FLEET_LOG_LEVEL: 'error' }, stdout: ctx.stderr };
}

// ---------------------------------------------------------------------------------------------
// The daemon and the read-only observation: the one place they are put together.

/** The adapters a tick works with (tests pass in-memory ports of the same shapes). */
export interface TickPorts {
  github: GitHub;
  tart: Tart;
  guest: Guest;
  clock: Clock;
  logger: Logger;
  disk?: DiskSpace;
}

export interface DaemonOverrides {
  /** Default: the failure counts persisted in `<state_dir>/memory.json`. */
  memory?: HostMemory;
  /** Default: `tart-fleet cache prune` as a child process. */
  cacheTool?: CacheTool;
  /** Default: under `<state_dir>/cache-clones`. */
  cacheClones?: CacheCloneDir;
  /** Default: `<state_dir>/history.jsonl`. */
  history?: JobHistory;
  /** The running boot proof's verdicts (daemon/boot-proof.ts); without it no image is gated. */
  bootProof?: () => BootProofView | undefined;
}

/** The daemon's tick with everything it owns: memory, observer, creator, cache keeper, clones, run logs. */
export function buildDaemon(config: Config, ports: TickPorts, overrides: DaemonOverrides = {}): Reconciler {
  const { clock, logger } = ports;
  const paths = statePaths(config.host);
  const memory = overrides.memory ?? new HostMemory(clock.now(), new JsonStateFile(paths.memory), logger);
  const cacheClones = overrides.cacheClones ?? new CacheCloneDir(paths.cacheClones);
  const caches = new CacheKeeper({ config, tool: overrides.cacheTool ?? new ChildCacheTool(), clock, logger: logger.child({ component: 'cache' }) });
  const observer = new WorldObserver({ config, ...ports, caches: () => caches.snapshot(), ...(overrides.bootProof ? { bootProof: overrides.bootProof } : {}) });
  const creator = new Creator({ config, ...ports, memory, cacheClones });
  const runLogs = new RunLogs(config.host.log_dir, config.github.runner_name);
  const history = overrides.history ?? new JobHistory({ config, logger });
  return new Reconciler({ config, ...ports, memory, observer, creator, caches, cacheClones, runLogs, history });
}

/**
 * What `ls --live` and `run --dry-run` see: the world observed the daemon's way and the daemon's
 * remembered failure counts, read from its state file and never written. No creator, no cache
 * keeper: these commands cannot change anything.
 */
export function buildObservation(config: Config, ports: Omit<TickPorts, 'guest'>): () => Promise<{ world: Observed; memory: Remembered; plan: Plan }> {
  // The daemon's last boot proof gates here as in the daemon, so the queue says why a job waits.
  const bootProof = () => proofViewOf(readBootProof(config.host.state_dir)?.images);
  const observer = new WorldObserver({ config, ...ports, bootProof });
  const saved = new JsonStateFile(statePaths(config.host).memory);
  const readOnly: MemoryStore = { load: () => saved.load(), save: () => undefined };
  return async () => {
    const memory = new HostMemory(ports.clock.now(), readOnly, ports.logger).snapshot();
    const world = await observer.observe();
    return { world, memory, plan: plan(world, memory, config) };
  };
}
