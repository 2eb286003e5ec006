/**
 * The `Guest` port over `tart exec` (`vm.runner_delivery: exec`): instead of SSH, the JIT config
 * reaches the guest through the Tart Guest Agent, `tart exec -i <vm> zsh -c <runner_command>` with
 * the config on stdin. No SSH password, key or host key is involved.
 *
 * ## Lifecycle
 * `launchRunnerIn(vm, jit, deadline, env)`:
 * 1. Probes `tart exec <vm> true` until it exits 0 (the agent is up after boot) or `deadline`
 *    passes (→ GuestError `unreachable`). A probe that finds the VM stopped (exit 2) is `unreachable`
 *    at once: nothing will answer.
 * 2. Runs the runner command exactly once (tier variables exported in front, runner-env.ts) with the
 *    JIT config on stdin and resolves at once; `exited` rejects with `command-failed` on a non-zero
 *    exit (the runner may have started: the caller must not assume otherwise).
 * `launchRunner(ip, …)` (the port's signature) first finds the running VM that has `ip`.
 *
 * ## Gotchas
 * - Needs tart >= 2.27.0 on a macOS 14+ host and the guest agent with `--run-rpc` (in every
 *   non-vanilla Cirrus Labs image; facts sheet §1.11). Without the agent tart exits 1 with `Failed to
 *   connect to the VM using its control socket: …, is the Tart Guest Agent running?`.
 * - `tart exec` runs argv directly, not through a shell, so the configured command string is
 *   wrapped in `zsh -c` (the macOS guest's shell).
 * - The JIT config goes only to the child's stdin; never into argv, the environment or a log.
 * - The command runs as the agent's user (`admin`). Whether a background runner outlives the exec
 *   session on a real Mac is unverified: the start script should detach it (nohup / launchctl).
 * - The port gives an IP, not a VM name; the integrator may prefer passing the name (creator knows
 *   it) and calling `launchRunnerIn` directly, which saves a `tart list` and a `tart ip` per VM.
 */
import { GuestError, TartError, type Guest, type RunnerLaunch, type TartVm } from '../core/ports.js';
import { withExports } from './runner-env.js';
import type { Logger } from '../core/logger.js';

/** What this guest needs of the tart adapter (TartAdapter has all of it). */
export interface TartExecPort {
  list(): Promise<TartVm[]>;
  ip(name: string, waitSeconds: number): Promise<string>;
  execInGuest(name: string, argv: string[], opts: { stdin?: string; timeoutMs: number }): Promise<{ exitCode: number | null; stdout: string; stderr: string }>;
}

export interface TartExecGuestOptions {
  tart: TartExecPort;
  runnerCommand: string;
  logger: Logger;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Pause between agent probes. */
  retryDelayMs?: number;
  /** Bound on one probe. */
  probeTimeoutMs?: number;
  /** Bound on `tart exec` of the runner command (default a day: a foreground runner lasts its job). */
  commandTimeoutMs?: number;
}

/** The VM is deleted at its profile's timeout, which ends `tart exec` long before this. */
const RUNNER_COMMAND_BOUND_MS = 24 * 3_600_000;

const firstLine = (s: string) => s.split('\n').map((l) => l.trim()).find((l) => l !== '') ?? '';

export class TartExecGuest implements Guest {
  private readonly tart: TartExecPort;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly opts: TartExecGuestOptions) {
    this.tart = opts.tart;
    this.log = opts.logger.child({ component: 'tart-exec' });
    this.now = opts.now ?? Date.now;
    this.sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  /**
   * With `vm` (the creator knows the name of the VM it made), that VM and no other: an address is
   * not an identity (tart's default resolver reads DHCP leases by MAC, and a guest can send DHCP), so
   * a foreign VM resolving to the same IP must never receive the JIT config (audit turn4-security
   * N5). Without it, the running VM that has `ip`.
   */
  async launchRunner(ip: string, encodedJitConfig: string, deadline: number, env: Record<string, string>, vm?: string): Promise<RunnerLaunch> {
    return this.launchRunnerIn(vm ?? (await this.vmWithIp(ip)), encodedJitConfig, deadline, env);
  }

  /**
   * Resolves once the agent answered and `tart exec` carries the command; `exited` follows it to its
   * end (a runner in the foreground keeps it open for the whole job; the VM's timeout bounds it).
   */
  async launchRunnerIn(vm: string, encodedJitConfig: string, deadline: number, env: Record<string, string> = {}): Promise<RunnerLaunch> {
    await this.waitForAgent(vm, deadline);
    const argv = ['zsh', '-c', withExports(env, this.opts.runnerCommand)];
    const exited = this.tart.execInGuest(vm, argv, { stdin: `${encodedJitConfig}\n`, timeoutMs: this.opts.commandTimeoutMs ?? RUNNER_COMMAND_BOUND_MS }).then(
      (r) => {
        if (r.exitCode !== 0) throw new GuestError('command-failed', `the runner command in ${vm} exited ${r.exitCode ?? 'by a signal'}: ${firstLine(r.stderr)}`);
        this.log.info('runner command exited 0', { vm });
      },
      (err: unknown) => {
        // A timeout or a vanished tart after the config was sent: the runner may be running.
        throw new GuestError('command-failed', `tart exec of the runner command in ${vm} failed: ${(err as Error).message}`);
      },
    );
    exited.catch(() => undefined); // the launcher may stop listening once the runner is up
    return { exited };
  }

  /** Launches and waits for the command to end (`selftest`, tests). */
  async startRunner(ip: string, encodedJitConfig: string, deadline: number, env: Record<string, string> = {}): Promise<void> {
    await (await this.launchRunner(ip, encodedJitConfig, deadline, env)).exited;
  }

  async startRunnerIn(vm: string, encodedJitConfig: string, deadline: number, env: Record<string, string> = {}): Promise<void> {
    await (await this.launchRunnerIn(vm, encodedJitConfig, deadline, env)).exited;
  }

  /** Probes the guest agent until it answers; throws `unreachable` at the deadline. */
  private async waitForAgent(vm: string, deadline: number): Promise<void> {
    let last = '';
    for (let attempt = 1; ; attempt++) {
      const left = deadline - this.now();
      if (left <= 0) throw new GuestError('unreachable', `the Tart Guest Agent in ${vm} did not answer before the deadline: ${last || 'no answer'}`);
      try {
        const r = await this.tart.execInGuest(vm, ['true'], { timeoutMs: Math.min(left, this.opts.probeTimeoutMs ?? 15_000) });
        if (r.exitCode === 0) {
          this.log.debug('guest agent answered', { vm, attempt });
          return;
        }
        last = firstLine(r.stderr) || `exit ${r.exitCode ?? 'by a signal'}`;
        if (r.exitCode === 2) throw new GuestError('unreachable', `${vm} is not running: ${last}`);
      } catch (err) {
        if (err instanceof GuestError) throw err;
        if (err instanceof TartError && err.kind === 'tart-missing') throw new GuestError('unreachable', err.message);
        last = (err as Error).message;
      }
      await this.sleep(Math.min(this.opts.retryDelayMs ?? 1000, Math.max(0, deadline - this.now())));
    }
  }

  /** The running VM whose IP is `ip` (the port speaks IPs; tart exec needs a name). */
  private async vmWithIp(ip: string): Promise<string> {
    const running = (await this.tart.list()).filter((v) => v.state === 'running');
    for (const vm of running) {
      const got = await this.tart.ip(vm.name, 0).catch(() => undefined);
      if (got === ip) return vm.name;
    }
    throw new GuestError('unreachable', `no running VM has the IP ${ip}`);
  }
}
