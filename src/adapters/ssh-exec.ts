/**
 * A read-only SSH shell into a guest for `selftest`: connect (retrying until a deadline, as a
 * booting guest refuses at first), run short check commands and return their exit code and output,
 * disconnect. The daemon's runner start stays in ssh.ts (SshGuest), which never returns output.
 *
 * ## Gotchas
 * - Same credentials and host-key policy as SshGuest (`sshCredentials`, `sshFingerprint`); a pinned
 *   key that does not match is fatal at once, never retried.
 * - Commands carry no secrets and get no stdin: this is for inspection only.
 * - Only adapters/ssh*.ts import node-ssh (architecture.md, property 5).
 */
import { NodeSSH, type Config as NodeSshConfig } from 'node-ssh';
import { sshFingerprint, type SshCredentials } from './ssh.js';

export interface ExecResult {
  /** null when the command was killed (or the channel closed) without an exit status. */
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface GuestShellOptions extends SshCredentials {
  user: string;
  port: number;
  hostKey: string;
  now?: () => number;
  /** Per-attempt handshake timeout. */
  readyTimeoutMs?: number;
  retryDelayMs?: number;
}

export class GuestShell {
  private constructor(private readonly ssh: NodeSSH) {}

  /** Connects to `ip`, retrying until `deadline` (epoch ms); rejects naming the last reason. */
  static async connect(ip: string, deadline: number, opts: GuestShellOptions): Promise<GuestShell> {
    const now = opts.now ?? Date.now;
    const pin = opts.hostKey === 'accept-any' ? undefined : opts.hostKey.replace(/=+$/, '');
    let last = 'no attempt made';
    for (let attempt = 1; ; attempt++) {
      const remaining = deadline - now();
      if (remaining <= 0) throw new Error(`ssh ${opts.user}@${ip}:${opts.port}: not reachable in time (${attempt - 1} attempts; last: ${last})`);
      let rejected: string | undefined;
      const config: NodeSshConfig = {
        host: ip,
        port: opts.port,
        username: opts.user,
        readyTimeout: Math.max(1, Math.min(opts.readyTimeoutMs ?? 5000, remaining)),
        hostVerifier: (key: Buffer) => {
          if (pin === undefined) return true;
          const seen = sshFingerprint(key);
          if (seen === pin) return true;
          rejected = seen;
          return false;
        },
      };
      if (opts.password !== undefined) config.password = opts.password;
      if (opts.privateKey !== undefined) config.privateKey = opts.privateKey;
      else if (opts.privateKeyPath !== undefined) config.privateKeyPath = opts.privateKeyPath;
      const ssh = new NodeSSH();
      try {
        await ssh.connect(config);
        ssh.connection?.on('error', () => undefined);
        return new GuestShell(ssh);
      } catch (err) {
        ssh.dispose();
        if (rejected !== undefined) throw new Error(`ssh ${ip}:${opts.port}: host key ${rejected} does not match the pinned ${pin}`, { cause: err });
        // Messages from ssh2 name the failure (ECONNREFUSED, authentication methods failed); never a password.
        last = (err as Error).message;
      }
      const wait = Math.min(opts.retryDelayMs ?? 1000, deadline - now());
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  }

  /** Runs one command; resolves with its exit code and output (rejects only if the channel fails). */
  async exec(command: string, timeoutMs = 30_000): Promise<ExecResult> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${command}: no answer within ${timeoutMs / 1000} s`)), timeoutMs);
    });
    const run = this.ssh.execCommand(command);
    run.catch(() => undefined);
    try {
      const r = await Promise.race([run, timeout]);
      return { code: r.code, stdout: r.stdout, stderr: r.stderr };
    } finally {
      clearTimeout(timer);
    }
  }

  close(): void {
    this.ssh.dispose();
  }
}
