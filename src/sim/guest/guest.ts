/**
 * The simulated guest: what runs "inside" a VM started by the fake `tart run`. It boots (after
 * `bootDelayMs` its sshd answers on `ip:sshPort`), accepts the runner start command over SSH with the
 * JIT config on stdin, plays the JIT runner against the fake GitHub's broker, and powers itself off
 * when the runner exits, like an image whose start script ends in `shutdown -h now`.
 *
 * ## Lifecycle
 * `startSimulatedGuest` resolves at once (the VM is "booting"); sshd listens after `bootDelayMs`.
 * `poweredOff` resolves when the guest shuts itself down after its runner exited, or after `stop()`.
 * `stop()` is a hard power-off: sshd closes, open SSH sockets are cut, the runner is abandoned.
 *
 * Environment switches (read from `opts.env`, the fake tart's environment):
 * - `TART_SIM_SSH_USER` / `TART_SIM_SSH_PASSWORD` (default `admin` / `admin`); keys in
 *   `<vmDir>/authorized_keys` work too.
 * - `TART_SIM_SSH_AUTH_FAIL_MS`: reject valid credentials for this long after sshd starts.
 * - `TART_SIM_RUNNER_COMMAND` (default `/Users/admin/actions-runner/start-jit-runner.sh`).
 * - `TART_SIM_SPEED` (default 1): job durations are divided by it.
 * - `TART_SIM_GUEST_STAYS_UP=1`: do not power off after the runner exits.
 * - `TART_SIM_JOB_HANG=1`: the job never finishes.
 * - `TART_SIM_RUNNER_FOREGROUND=1`: the runner command stays in the foreground until the runner
 *   exits (a start script that runs `./run.sh` directly instead of detaching it).
 * - `TART_SIM_LOCAL_NETWORK=blocked`: the host's Local Network privacy blocks TCP from the host to
 *   the guest (macOS 15+, a non-root process not exempted; cirruslabs/orchard#221 "dial tcp …:
 *   connect: no route to host", elastic-fruit-runner#72). The guest's sshd runs inside the guest
 *   (`nc -z 127.0.0.1 <port>` through `tart exec` answers 0) but nothing on the host reaches it.
 *   `tart exec` is unaffected: it goes through tart's control socket and vsock, no IP (tart
 *   `Sources/tart/Commands/Exec.swift`, `ControlSocket.swift`).
 * - `TART_SIM_RUNNER_VERSION`, `TART_SIM_RUNNER_UPDATE_DOWNLOAD_MS`, `TART_SIM_RUNNER_UPDATE_OFFLINE_MS`:
 *   the runner's version and self-update timing (runner.ts `runnerOptionsFromEnv`).
 *
 * ## Gotchas
 * - The JIT config is never logged or written anywhere; `.sim-exec.log` holds commands only.
 * - Local Network privacy blocks by process on a real Mac (a Terminal's `ssh` may get through while
 *   the daemon's node cannot); the simulation cannot tell processes apart, so with
 *   `TART_SIM_LOCAL_NETWORK=blocked` no host process reaches the guest's port: the connection is
 *   refused (ECONNREFUSED) where a real Mac answers EHOSTUNREACH ("no route to host").
 * - Starting the runner command twice starts two runners; the broker answers the second with 409
 *   (session conflict), as GitHub does for a JIT config used twice.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXEC_LOG, hostKeyFingerprint, splitExports, startSshServer, type SshServerHandle } from './ssh-server.js';
import { runSimulatedRunner, runnerOptionsFromEnv } from './runner.js';

export { EXEC_LOG, hostKeyFingerprint };

export const DEFAULT_RUNNER_COMMAND = '/Users/admin/actions-runner/start-jit-runner.sh';

export interface SimulatedGuestOptions {
  vmName: string;
  /** The loopback address to listen on (127.A.B.C). */
  ip: string;
  /** From TART_SIM_SSH_PORT, default 2222. */
  sshPort: number;
  /** The VM's directory under TART_HOME (host key and authorized_keys live there). */
  vmDir: string;
  /** SSH starts answering only after this. */
  bootDelayMs: number;
  /** The fake tart's environment (TART_SIM_* switches). */
  env: NodeJS.ProcessEnv;
  /** Goes to the tart run log (stdout). */
  log: (line: string) => void;
}

export interface SimulatedGuest {
  /** Resolves when the guest shuts itself down (runner finished), or after `stop()`. */
  poweredOff: Promise<void>;
  /** Hard power-off (tart stop / SIGINT): close the SSH server, abandon the runner. */
  stop(): Promise<void>;
  /**
   * The guest agent's exec (`tart exec`): runs `command` (argv joined by spaces) with `stdin`. Knows
   * the runner start command only, like the sshd; answers 127 for anything else.
   */
  execCommand?(command: string, stdin: string): { code: number; stderr: string };
}

function num(value: string | undefined, fallback: number): number {
  const n = value === undefined || value === '' ? NaN : Number(value);
  return Number.isFinite(n) ? n : fallback;
}

export async function startSimulatedGuest(opts: SimulatedGuestOptions): Promise<SimulatedGuest> {
  const { env, log } = opts;
  const user = env.TART_SIM_SSH_USER || 'admin';
  const password = env.TART_SIM_SSH_PASSWORD || 'admin';
  const authFailMs = num(env.TART_SIM_SSH_AUTH_FAIL_MS, 0);
  const runnerCommand = env.TART_SIM_RUNNER_COMMAND || DEFAULT_RUNNER_COMMAND;
  const speedRaw = num(env.TART_SIM_SPEED, 1);
  const speed = speedRaw > 0 ? speedRaw : 1;
  const staysUp = env.TART_SIM_GUEST_STAYS_UP === '1';
  const jobHangs = env.TART_SIM_JOB_HANG === '1';
  const foreground = env.TART_SIM_RUNNER_FOREGROUND === '1';
  const localNetworkBlocked = env.TART_SIM_LOCAL_NETWORK === 'blocked';
  let booted = false;

  // Create (or load) the host key now, so its fingerprint is fixed before sshd answers.
  hostKeyFingerprint(opts.vmDir);

  const abort = new AbortController();
  let off = false;
  let resolveOff!: () => void;
  const poweredOff = new Promise<void>((r) => (resolveOff = r));
  let sshd: SshServerHandle | undefined;
  let bootTimer: NodeJS.Timeout | undefined;

  const powerOff = async (why: string): Promise<void> => {
    if (off) return;
    off = true;
    if (bootTimer) clearTimeout(bootTimer);
    abort.abort();
    const server = sshd;
    sshd = undefined;
    await server?.close();
    log(`guest: ${opts.vmName} powered off (${why})`);
    resolveOff();
  };

  const onRunnerCommand = (encodedJitConfig: string, tier: Record<string, string>): Promise<void> => {
    log(`guest: runner starting${Object.keys(tier).length ? ` (${Object.entries(tier).map(([k, v]) => `${k}=${v}`).join(' ')})` : ''}`);
    const exited = runSimulatedRunner({ encodedJitConfig, log: (l) => log(`runner: ${l}`), speed, jobHangs, signal: abort.signal, ...runnerOptionsFromEnv(env) });
    void exited
      .then(async (exit) => {
        log(`guest: runner exited (${exit})`);
        if (exit === 'aborted' || off) return;
        if (staysUp) {
          log('guest: staying up after the runner exited (TART_SIM_GUEST_STAYS_UP=1)');
          return;
        }
        // `shutdown -h now` is not instant: the SSH session that started the runner gets to close first.
        await new Promise((r) => setTimeout(r, 100));
        await powerOff('runner finished');
      })
      .catch((err: unknown) => log(`guest: runner crashed: ${(err as Error).message}`));
    return exited.then(() => undefined);
  };

  bootTimer = setTimeout(() => {
    bootTimer = undefined;
    booted = true;
    if (localNetworkBlocked) {
      log(`guest: sshd up inside the guest, but the host's Local Network privacy blocks ${opts.ip}:${opts.sshPort} (TART_SIM_LOCAL_NETWORK=blocked)`);
      return;
    }
    startSshServer({
      ip: opts.ip,
      port: opts.sshPort,
      vmDir: opts.vmDir,
      user,
      password,
      authFailUntil: Date.now() + authFailMs,
      runnerCommand,
      onRunnerCommand,
      foreground,
      log,
    }).then(
      (handle) => {
        if (off) void handle.close();
        else sshd = handle;
      },
      (err: unknown) => log(`sshd: cannot listen on ${opts.ip}:${opts.sshPort}: ${(err as Error).message}`),
    );
  }, Math.max(0, opts.bootDelayMs));
  log(`guest: ${opts.vmName} booting, sshd on ${opts.ip}:${opts.sshPort} in ${opts.bootDelayMs} ms`);

  return {
    poweredOff,
    stop: () => powerOff('stopped'),
    execCommand: (command, stdin) => {
      if (off) return { code: 1, stderr: 'the guest is powered off\n' };
      // Commands only, never stdin: the JIT config must not reach a file (as with the sshd).
      appendFileSync(join(opts.vmDir, EXEC_LOG), `${command.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}\n`);
      // The boot proof's in-guest check that sshd listens (the audit's `nc -z 127.0.0.1 22`): inside
      // the guest, Local Network privacy on the host does not apply.
      const probe = /^(?:\/usr\/bin\/)?nc -z 127\.0\.0\.1 (\d+)$/.exec(command);
      if (probe) return booted && Number(probe[1]) === opts.sshPort ? { code: 0, stderr: '' } : { code: 1, stderr: '' };
      const { env: tier, rest } = splitExports(command);
      if (rest !== runnerCommand) return { code: 127, stderr: `zsh: command not found: ${command.split(' ')[0] ?? ''}\n` };
      void onRunnerCommand(stdin.trim(), tier);
      return { code: 0, stderr: '' };
    },
  };
}
