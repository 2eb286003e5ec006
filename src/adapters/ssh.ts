/**
 * The SSH adapter of the `Guest` port: waits for a freshly booted VM's sshd, then runs
 * `vm.runner_command` once with the encoded JIT config on the command's stdin (node-ssh over ssh2).
 *
 * ## Lifecycle
 * 1. `launchRunner(ip, jit, deadline, env)` connects in a loop, a fresh `NodeSSH` per attempt with a
 *    short `readyTimeout`, until the handshake and authentication succeed or `deadline` passes.
 * 2. It then runs the runner command exactly once (`export K=V …; <runner_command>`, the JIT config
 *    on stdin) and resolves as soon as the guest opened the channel: the command is accepted.
 * 3. `exited` settles when the command ends. The connection is kept until then, because closing it
 *    would hang up a runner that runs in the foreground (sshd sends SIGHUP); it goes when the command
 *    ends or the VM does. `startRunner` waits for the end too (for `selftest` and tests).
 *
 * ## Gotchas
 * - The JIT config is a credential: it goes only to the channel's stdin (followed by one newline, so a
 *   shell `read` in the start script sees a complete line). Never in the command line sent to the
 *   guest, an env var, a file name or a log line; the stderr we quote is redacted.
 * - macOS guests accept TCP (and even finish the SSH handshake) before the `admin` account can log in,
 *   so an authentication failure is retried for `authGraceMs` after the first handshake, then fatal.
 * - Host key `accept-any` is the `StrictHostKeyChecking no` of the Cirrus Labs docs: acceptable only
 *   for throwaway VMs on the host's private NAT network. Pinning compares the OpenSSH fingerprint
 *   (`SHA256:` + unpadded base64 of sha256(key blob)) of the golden image's host key, which every
 *   clone shares; a mismatch is never retried.
 * - node-ssh needs the private key as a string (facts §12); `sshCredentials` reads the file.
 * - Only this module (and other adapters/ssh*.ts) imports node-ssh (architecture.md, property 5).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { NodeSSH, type Config as NodeSshConfig } from 'node-ssh';
import { GuestError, type Guest, type GuestTarget, type RunnerLaunch } from '../core/ports.js';
import type { Logger } from '../core/logger.js';
import { Secrets } from '../secrets/redact.js';
import { withExports } from './runner-env.js';

export type HostKeyPolicy = 'accept-any' | `SHA256:${string}`;

export interface SshGuestOptions {
  user: string;
  port: number;
  password?: string;
  /** Read at every connection attempt; prefer `privateKey` (see `sshCredentials`). */
  privateKeyPath?: string;
  /** The private key's text (PEM or OpenSSH format). Wins over `privateKeyPath`. */
  privateKey?: string;
  hostKey: HostKeyPolicy | string;
  runnerCommand: string;
  logger: Logger;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Per-attempt handshake timeout (ssh2 `readyTimeout`). */
  readyTimeoutMs?: number;
  /** Pause between connection attempts. */
  retryDelayMs?: number;
  /** How long after the first handshake an authentication failure is still retried. */
  authGraceMs?: number;
}

/** Credentials for `SshGuestOptions`, built by `sshCredentials`. */
export interface SshCredentials {
  password?: string;
  privateKeyPath?: string;
  privateKey?: string;
}

/**
 * Builds the guest credentials from the environment (`TART_FLEET_SSH_PASSWORD`) and the config
 * (`vm.ssh_private_key_path`, read here as a string because node-ssh rejects a Buffer). Both may be
 * given; ssh2 then tries the key first. Throws an error naming what is missing; never echoes a secret.
 */
export function sshCredentials(
  env: Record<string, string | undefined>,
  vm: { ssh_private_key_path?: string | undefined },
  readFile: (path: string) => string = (p) => readFileSync(p, 'utf8'),
): SshCredentials {
  const out: SshCredentials = {};
  const password = env.TART_FLEET_SSH_PASSWORD;
  if (password !== undefined && password !== '') out.password = password;
  const keyPath = vm.ssh_private_key_path;
  if (keyPath !== undefined && keyPath !== '') {
    let text: string;
    try {
      text = readFile(keyPath);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw new Error(`vm.ssh_private_key_path: cannot read ${keyPath} (${code})`, { cause: err });
    }
    if (!/PRIVATE KEY-----/.test(text)) {
      throw new Error(`vm.ssh_private_key_path: ${keyPath} does not hold a PEM or OpenSSH private key`);
    }
    out.privateKeyPath = keyPath;
    out.privateKey = text;
  }
  if (out.password === undefined && out.privateKey === undefined) {
    throw new Error('no SSH credentials for the guest: set TART_FLEET_SSH_PASSWORD_FILE=<path of a chmod 600 file> (or TART_FLEET_SSH_PASSWORD), or vm.ssh_private_key_path');
  }
  return out;
}

/** The OpenSSH fingerprint of a public key blob (wire format): `SHA256:` + unpadded base64. */
export function sshFingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** Connection errors that mean "the guest is still booting". */
const RETRYABLE_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ETIMEDOUT', 'ENETUNREACH', 'ECONNRESET', 'EHOSTDOWN', 'EPIPE']);
const RETRYABLE_MESSAGES = [
  'Timed out while waiting for handshake',
  'Connection lost before handshake',
  'No response from server',
];

type AttemptFailure =
  | { kind: 'retry'; reason: string }
  | { kind: 'auth'; reason: string }
  | { kind: 'fatal'; reason: string };

function classify(err: unknown): AttemptFailure {
  const e = err as { code?: unknown; level?: unknown; message?: unknown };
  const message = typeof e.message === 'string' ? e.message : String(err);
  const code = typeof e.code === 'string' ? e.code : undefined;
  if (e.level === 'client-authentication' || message.includes('All configured authentication methods failed')) {
    return { kind: 'auth', reason: message };
  }
  if ((code && RETRYABLE_CODES.has(code)) || RETRYABLE_MESSAGES.some((m) => message.includes(m))) {
    return { kind: 'retry', reason: code && !message.includes(code) ? `${code}: ${message}` : message };
  }
  if (e.level === 'client-socket' || e.level === 'client-timeout') return { kind: 'retry', reason: message };
  return { kind: 'fatal', reason: message };
}

export class SshGuest implements Guest {
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly readyTimeoutMs: number;
  private readonly retryDelayMs: number;
  private readonly authGraceMs: number;
  private readonly log: Logger;

  constructor(private readonly opts: SshGuestOptions) {
    if (opts.hostKey !== 'accept-any' && !/^SHA256:[A-Za-z0-9+/]+=*$/.test(opts.hostKey)) {
      throw new Error(`vm.ssh_host_key: must be accept-any or SHA256:<base64>, got ${opts.hostKey}`);
    }
    if (opts.password === undefined && opts.privateKey === undefined && opts.privateKeyPath === undefined) {
      throw new Error('no SSH credentials for the guest: set TART_FLEET_SSH_PASSWORD_FILE=<path of a chmod 600 file> (or TART_FLEET_SSH_PASSWORD), or vm.ssh_private_key_path');
    }
    this.now = opts.now ?? Date.now;
    this.sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.readyTimeoutMs = opts.readyTimeoutMs ?? 5000;
    this.retryDelayMs = opts.retryDelayMs ?? 1000;
    this.authGraceMs = opts.authGraceMs ?? 20_000;
    this.log = opts.logger.child({ component: 'ssh' });
  }

  launchRunner(target: GuestTarget, encodedJitConfig: string, deadline: number, env: Record<string, string> = {}): Promise<RunnerLaunch> {
    return this.launchAt(target.ip, encodedJitConfig, deadline, env);
  }

  /** `launchRunner` on an address (`tart ip <vm>`'s answer). */
  async launchAt(ip: string, encodedJitConfig: string, deadline: number, env: Record<string, string> = {}): Promise<RunnerLaunch> {
    const command = withExports(env, this.opts.runnerCommand);
    const secrets = new Secrets();
    secrets.add(encodedJitConfig);
    secrets.add(this.opts.password);
    const ssh = await this.connect(ip, deadline, secrets);
    try {
      return await this.launch(ssh, ip, command, encodedJitConfig, secrets);
    } catch (err) {
      ssh.dispose();
      throw err;
    }
  }

  /** Launches and waits for the command to end: exit 0 resolves, anything else rejects. */
  async startRunner(ip: string, encodedJitConfig: string, deadline: number, env: Record<string, string> = {}): Promise<void> {
    await (await this.launchAt(ip, encodedJitConfig, deadline, env)).exited;
  }

  /** Connects with bounded retries; resolves with a connected, authenticated client. */
  private async connect(ip: string, deadline: number, secrets: Secrets): Promise<NodeSSH> {
    // OpenSSH prints the base64 unpadded; a pin copied from a tool that pads still matches.
    const pin = this.opts.hostKey === 'accept-any' ? undefined : this.opts.hostKey.replace(/=+$/, '');
    let firstHandshakeAt: number | undefined;
    let lastReason = 'no attempt made';
    for (let attempt = 1; ; attempt++) {
      const remaining = deadline - this.now();
      if (remaining <= 0) {
        throw new GuestError('unreachable', `ssh ${ip}:${this.opts.port}: not reachable before the deadline (${attempt - 1} attempts; last: ${lastReason})`);
      }
      let rejectedKey: string | undefined;
      const config: NodeSshConfig = {
        host: ip,
        port: this.opts.port,
        username: this.opts.user,
        readyTimeout: Math.max(1, Math.min(this.readyTimeoutMs, remaining)),
        // Called with the raw host key blob once key exchange reached the host key: the handshake works.
        hostVerifier: (key: Buffer) => {
          firstHandshakeAt ??= this.now();
          if (pin === undefined) return true;
          const seen = sshFingerprint(key);
          if (seen === pin) return true;
          rejectedKey = seen;
          return false;
        },
      };
      if (this.opts.password !== undefined) config.password = this.opts.password;
      if (this.opts.privateKey !== undefined) config.privateKey = this.opts.privateKey;
      else if (this.opts.privateKeyPath !== undefined) config.privateKeyPath = this.opts.privateKeyPath;

      const ssh = new NodeSSH();
      this.log.debug('ssh connect attempt', { ip, port: this.opts.port, attempt });
      try {
        await ssh.connect(config);
        // node-ssh drops its error listener once connected; without ours, a guest that powers off
        // while we still hold the connection (ECONNRESET/EPIPE) would be an uncaught exception.
        ssh.connection?.on('error', (err: Error) => {
          this.log.debug('ssh connection error', { ip, reason: secrets.redactText(err.message) });
        });
        this.log.info('ssh connected', { ip, port: this.opts.port, attempt, host_key: pin ? 'pinned' : 'accept-any' });
        return ssh;
      } catch (err) {
        ssh.dispose();
        if (rejectedKey !== undefined) {
          throw new GuestError('host-key', `ssh ${ip}:${this.opts.port}: host key ${rejectedKey} does not match the pinned ${pin}`);
        }
        const failure = classify(err);
        lastReason = secrets.redactText(failure.reason);
        if (failure.kind === 'auth') {
          const at = this.now();
          firstHandshakeAt ??= at;
          if (at - firstHandshakeAt >= this.authGraceMs) {
            throw new GuestError('auth', `ssh ${this.opts.user}@${ip}:${this.opts.port}: authentication failed for ${Math.round((at - firstHandshakeAt) / 1000)} s after the first handshake (${lastReason})`);
          }
        } else if (failure.kind === 'fatal') {
          if (/private ?key|passphrase/i.test(failure.reason)) {
            throw new GuestError('auth', `ssh ${ip}:${this.opts.port}: unusable private key (${lastReason})`);
          }
          throw new GuestError('unreachable', `ssh ${ip}:${this.opts.port}: ${lastReason}`);
        }
        this.log.debug('ssh not ready, retrying', { ip, port: this.opts.port, attempt, reason: lastReason });
      }
      const wait = Math.min(this.retryDelayMs, deadline - this.now());
      if (wait > 0) await this.sleep(wait);
    }
  }

  /**
   * Runs the command once. Resolves when the guest opened the channel (stdin is written right
   * after); `exited` then follows the command to its end and disposes of the connection.
   */
  private launch(ssh: NodeSSH, ip: string, command: string, encodedJitConfig: string, secrets: Secrets): Promise<RunnerLaunch> {
    this.log.debug('starting runner', { ip, command });
    return new Promise<RunnerLaunch>((resolve, reject) => {
      let accepted = false;
      const exec = ssh.execCommand(command, {
        stdin: `${encodedJitConfig}\n`,
        onChannel: () => {
          accepted = true;
          resolve({ exited });
        },
      });
      const exited = exec.then(
        (result) => {
          if (result.code === 0) {
            this.log.info('runner command exited 0', { ip });
            return;
          }
          const firstLine = secrets.redactText((result.stderr.split('\n').find((l) => l.trim() !== '') ?? '').trim()).slice(0, 300);
          const status = result.code === null ? `was killed by signal ${result.signal ?? 'unknown'}` : `exited ${result.code}`;
          throw new GuestError('command-failed', `runner command ${status}: ${firstLine || '(no stderr)'}`);
        },
        (err: unknown) => {
          const error = new GuestError('command-failed', `runner command could not be run: ${secrets.redactText((err as Error).message ?? String(err))}`);
          if (!accepted) reject(error);
          throw error;
        },
      ).finally(() => ssh.dispose());
      // Whoever launched may stop listening once the runner is up; an end after that is not an error here.
      exited.catch(() => undefined);
    });
  }
}
