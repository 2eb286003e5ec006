/**
 * The composition root: parses argv (commander), and hands each command its context. Only this
 * module and the commands it calls read `process.env`; the core never does.
 *
 * Exit codes (contract.md): 0 ok, 1 runtime failure, 2 usage or config error. A ConfigError prints
 * one line per problem and never a stack trace.
 */
import { Command, CommanderError, Option } from 'commander';
import { hostname, totalmem } from 'node:os';
import { ConfigError } from './config/errors.js';
import { packageVersion } from './config/package.js';
import { ExitError, type CliContext } from './cli/context.js';
import { endQuietlyOnBrokenPipe } from './cli/broken-pipe.js';

export async function main(argv: string[], given: CliContext = processContext()): Promise<number> {
  let exitCode = 0;
  // A copy: global options (--log-format) are written into it before a command runs.
  const ctx: CliContext = { ...given };
  const program = buildProgram(ctx, (code) => {
    exitCode = code;
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (err) {
    return reportError(err, ctx);
  }
}

function processContext(): CliContext {
  // `tart-fleet ls | head`: the reader leaving ends us quietly (exit 141), never a stack trace.
  endQuietlyOnBrokenPipe(process.stdout);
  endQuietlyOnBrokenPipe(process.stderr);
  return {
    env: process.env,
    cwd: process.cwd(),
    stdout: process.stdout,
    stderr: process.stderr,
    hostname: hostname(),
    totalMemBytes: totalmem(),
    platform: process.platform,
  };
}

function reportError(err: unknown, ctx: CliContext): number {
  if (err instanceof CommanderError) {
    // commander already printed its message (help, version, or a usage error).
    return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0 ? 0 : 2;
  }
  if (err instanceof ConfigError) {
    for (const line of err.problems) ctx.stderr.write(`${line}\n`);
    return 2;
  }
  if (err instanceof ExitError) {
    for (const line of err.lines) ctx.stderr.write(`${line}\n`);
    return err.code;
  }
  const message = err instanceof Error ? err.message : String(err);
  ctx.stderr.write(`tart-fleet: ${message}\n`);
  return 1;
}

export function buildProgram(ctx: CliContext, setExit: (code: number) => void): Command {
  const program = new Command('tart-fleet')
    .description('Runs each GitHub Actions job of an org in a fresh, ephemeral Tart VM on this Mac.')
    .version(packageVersion(), '-V, --version')
    .configureOutput({
      writeOut: (s) => ctx.stdout.write(s),
      writeErr: (s) => ctx.stderr.write(s),
    })
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)')
    .addOption(new Option('--log-format <format>', 'log lines as text (readable) or json (one object per line); default: text on a TTY, else json').choices(['json', 'text']))
    .hook('preAction', (root) => {
      const format = (root.opts() as { logFormat?: 'json' | 'text' }).logFormat;
      if (format) ctx.logFormat = format;
    });

  const configOption = () =>
    new Option('-c, --config <path>', 'pipeline.yml to use (else $TART_FLEET_CONFIG, else ./pipeline.yml)');

  program
    .command('run')
    .description('the daemon: reconcile every host.poll_seconds until SIGTERM/SIGINT (finishes the tick in flight, exits 0)')
    .addOption(configOption())
    .option('--once', 'run one tick; exit 0 if it completed, 1 if it failed')
    .option('--dry-run', 'observe and print the plan; change nothing anywhere')
    .option('--log-file <path>', 'also write the log as JSON lines to this file, rotated at 10 MB, 5 files kept (the LaunchDaemon uses it)')
    .action(async (opts: { config?: string; once?: boolean; dryRun?: boolean; logFile?: string }) => {
      const { runCommand } = await import('./cli/run.js');
      setExit(await runCommand(ctx, opts));
    });

  program
    .command('ls')
    .description("the fleet at a glance from the daemon's status snapshot (no GitHub request): VMs, RAM ledger, queued jobs with why each waits, drain state; exit 3 stale, 4 degraded; --history: jobs that ended here; --fleet: every Mac of the org")
    .addOption(configOption())
    .option('--json', 'print one JSON object (for machines)')
    .option('--live', "observe GitHub and tart directly instead of reading the daemon's status snapshot")
    .option('--watch', 'redraw every poll interval until Ctrl-C')
    .option('--state-dir <dir>', "read the status snapshot from this directory (default: the config's host.state_dir)")
    .option('--history', 'the jobs that ended on this Mac, newest first (last 500 kept): repo, workflow, profile, queue wait, boot, run time, result')
    .option('--fleet', "every Mac of the org holding runners now, from GitHub's runner list (tf-host-<name> labels): runners, busy, profiles; exit 4 if GitHub is unreadable")
    .action(async (opts: { config?: string; json?: boolean; live?: boolean; watch?: boolean; stateDir?: string; history?: boolean; fleet?: boolean }) => {
      const { lsCommand } = await import('./cli/ls.js');
      setExit(await lsCommand(ctx, opts));
    });

  program
    .command('drain')
    .description('stop claiming new jobs on this Mac (running jobs finish); survives a daemon restart until `resume`; --wait blocks until no VM of this host runs (exit 0 idle, 3 unknown)')
    .addOption(configOption())
    .option('--wait', 'block, printing progress, until no VM of this host runs and none is being created')
    .action(async (opts: { config?: string; wait?: boolean }) => {
      const { drainCommand } = await import('./cli/drain.js');
      setExit(await drainCommand(ctx, opts));
    });

  program
    .command('resume')
    .description('end a drain: this Mac claims new jobs again from the next tick')
    .addOption(configOption())
    .action(async (opts: { config?: string }) => {
      const { resumeCommand } = await import('./cli/drain.js');
      setExit(await resumeCommand(ctx, opts));
    });

  program
    .command('validate')
    .description('check the config and the prerequisites, one line each; exit 0 only if all pass')
    .addOption(configOption())
    .option('--config-only', 'check pipeline.yml, the secret files and the directories only (no tart, no GitHub)')
    .option('--json', 'print one JSON document (for machines)')
    .action(async (opts: { config?: string; configOnly?: boolean; json?: boolean }) => {
      const { validateCommand } = await import('./cli/validate.js');
      setExit(await validateCommand(ctx, opts));
    });

  program
    .command('init')
    .description('write a commented pipeline.yml for this Mac (detects RAM, host name, tart, golden images) and print the next steps')
    .option('--org <org>', 'the GitHub organisation whose jobs this Mac runs (asked on a TTY when missing)')
    .option('--runner-name <name>', "this Mac's name (default: the short host name)")
    .option('--image <name>', 'the golden image cloned per job (default: workhorse, or the one found under TART_HOME)')
    .option('-o, --output <path>', 'where to write', 'pipeline.yml')
    .option('--force', 'overwrite an existing file')
    .action(async (opts: { org?: string; runnerName?: string; image?: string; output?: string; force?: boolean }) => {
      const { initCommand } = await import('./cli/init.js');
      setExit(await initCommand(ctx, opts));
    });

  program
    .command('selftest')
    .description('clone the golden image, boot it, SSH in, check the runner version, PATH tools and cache mount, delete it (no GitHub). Run from a terminal or SSH shell it proves nothing about launchd (that shell has its own keychain and is exempt from Local Network privacy): use --as-daemon')
    .addOption(configOption())
    .option('--profile <name>', "boot the VM with this profile's CPU, RAM and image (default: the smallest profile)")
    .option('--as-daemon', "ask the running daemon to run its boot proof in its own (launchd) context and print the result (docs/boot-proof.md)")
    .action(async (opts: { config?: string; profile?: string; asDaemon?: boolean }) => {
      if (opts.asDaemon) {
        const { selftestAsDaemon } = await import('./cli/selftest-daemon.js');
        setExit(await selftestAsDaemon(ctx, opts));
        return;
      }
      const { selftestCommand } = await import('./cli/selftest.js');
      setExit(await selftestCommand(ctx, opts));
    });

  program
    .command('logs')
    .description('list the per-VM run logs in host.log_dir (size, age), or print one VM\'s log or the daemon\'s (secrets redacted); --follow to keep printing')
    .argument('[vm]', 'a VM name, or any unique part of one (a job id)')
    .addOption(configOption())
    .option('--json', 'list as one JSON object (for machines)')
    .option('-f, --follow', 'keep printing lines as they are added (redacted), until Ctrl-C; follows the daemon log across rotation')
    .option('--daemon-log [path]', "the daemon's own log instead of a VM's (default: the LaunchDaemon's /Library/Logs/tart-fleet/tart-fleet.log)")
    .action(async (vm: string | undefined, opts: { config?: string; json?: boolean; follow?: boolean; daemonLog?: boolean | string }) => {
      const { logsCommand } = await import('./cli/logs.js');
      setExit(await logsCommand(ctx, vm, opts));
    });

  program
    .command('demo')
    .description('the real scheduler against a simulated org and a simulated Mac: no GitHub, no Mac needed')
    .option('--jobs <n>', 'jobs to queue', parseIntOption('--jobs'), 12)
    .option('--ram-gb <n>', "the simulated Mac's RAM in GB; the profiles are fitted to it (8 = the base Mac mini; at least 6)", parseIntOption('--ram-gb'), 16)
    .option('--speed <x>', 'speed-up of simulated time (job durations, boot times)', parseFloatOption('--speed'), 30)
    .action(async (opts: { jobs: number; ramGb: number; speed: number }) => {
      const { demoCommand } = await import('./cli/demo.js');
      setExit(await demoCommand(ctx, opts));
    });

  program
    .command('launchd')
    .description('print the launchd plist that runs `tart-fleet run`: a LaunchAgent in your GUI session (default), or --mode daemon; --install writes and loads it, --uninstall removes it, --status shows it (macOS)')
    .addOption(configOption())
    .option('--mode <mode>', 'agent: a LaunchAgent in this user\'s GUI session (~/Library/LaunchAgents, gui/<uid>; boots macOS 15+ guests); daemon: a LaunchDaemon (Linux or macOS <= 14 guests only)', 'agent')
    .option('--install', 'agent: write ~/Library/LaunchAgents/dev.tart-fleet.agent.plist and bootstrap it (as the CI user, no sudo); daemon: write /Library/LaunchDaemons and print the launchctl commands (macOS only)')
    .option('--uninstall', 'unload it (launchctl bootout) and remove its plist (macOS only)')
    .option('--status', 'is the plist installed, is it loaded and running (exit 0 running, 3 not)')
    .option('--user <name>', 'the user owning ~/.tart (daemon: UserName in the plist; agent: must be you); default: the current user')
    .option('--log-dir <dir>', 'where the daemon writes its log, rotated by size (default ~/Library/Logs/tart-fleet for the agent, /Library/Logs/tart-fleet for the daemon)')
    .action(async (opts: { config?: string; install?: boolean; uninstall?: boolean; status?: boolean; user?: string; logDir?: string; mode?: 'agent' | 'daemon' }) => {
      const { launchdCommand } = await import('./cli/launchd.js');
      setExit(await launchdCommand(ctx, opts));
    });

  program
    .command('teardown')
    .description("stop and delete every VM of this host and delete this host's runners (lists them and asks first, unless --yes)")
    .addOption(configOption())
    .option('-y, --yes', 'remove without asking (required when stdin is not a TTY)')
    .action(async (opts: { config?: string; yes?: boolean }) => {
      const { teardownCommand } = await import('./cli/teardown.js');
      setExit(await teardownCommand(ctx, opts));
    });

  const cache = program.command('cache').description('the cache dir shared into every VM (host.cache_dir)');
  cache
    .command('prune')
    .description('remove files and directories in host.cache_dir unchanged for longer than --older-than, or the least recently used beyond --max-gb')
    .addOption(configOption())
    .option('--older-than <age>', 'age like 7d, 12h or 30m')
    .option('--max-gb <n>', 'remove the least recently used files (by mtime and atime) until the cache takes at most this many GB')
    .option('--dir <path>', 'prune this directory instead of host.cache_dir (no config is read)')
    .option('--dry-run', 'print what would be removed; remove nothing')
    .option('--json', 'print one JSON object: dir, bytes_before, bytes_after, freed_bytes, files_removed, dirs_removed, failed')
    .action(async (opts: { config?: string; olderThan?: string; maxGb?: string; dir?: string; dryRun?: boolean; json?: boolean }) => {
      const { cachePruneCommand } = await import('./cli/cache.js');
      setExit(await cachePruneCommand(ctx, opts));
    });

  const hook = program.command('hook').description('the event feed\'s org webhook (docs/event-feed.md)');
  hook
    .command('create')
    .description('create an org webhook subscribed to workflow_job whose URL never receives anything (https://tart-fleet.invalid/); prints the github.hook_id to set')
    .addOption(configOption())
    .option('--url <url>', 'the webhook URL instead (a name in a domain you own with no DNS record; never a third party\'s host)')
    .action(async (opts: { config?: string; url?: string }) => {
      const { hookCreateCommand } = await import('./cli/hook.js');
      setExit(await hookCreateCommand(ctx, opts));
    });

  program
    .command('disk')
    .description("disk used by this host's VMs, other VMs, golden images, the OCI cache and the cache dir; free space")
    .addOption(configOption())
    .option('--json', 'print one JSON object (for machines)')
    .action(async (opts: { config?: string; json?: boolean }) => {
      const { diskCommand } = await import('./cli/disk.js');
      setExit(await diskCommand(ctx, opts));
    });

  return program;
}

function parseIntOption(name: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) < 1) throw new ExitError(2, [`${name}: must be a positive integer`]);
    return Number(value);
  };
}

function parseFloatOption(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) throw new ExitError(2, [`${name}: must be a positive number`]);
    return n;
  };
}
