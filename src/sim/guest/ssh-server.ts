/**
 * The simulated guest's sshd: an `ssh2` Server with the VM's own host key, password and
 * authorized_keys authentication, and an `exec` handler that knows one real command (the runner
 * start script) plus `true`.
 *
 * ## Lifecycle
 * `startSshServer` listens at once (the caller delays it to model boot time) and returns a handle;
 * `close()` is a hard power-off: it stops listening and destroys every open socket.
 *
 * ## Gotchas
 * - The host key lives in the VM directory (`ssh_host_ed25519_key`, or an existing
 *   `ssh_host_rsa_key`) and is created on first use; clones copy the VM directory, so every clone of a
 *   golden image presents the golden's key, as real Tart clones do. That is what makes pinning work.
 * - `.sim-exec.log` records each exec'd command string, one line per exec (newlines escaped), and
 *   never its stdin: tests use it to prove the JIT config never travels in the command line.
 * - Sockets are accepted by a plain `net.Server` and handed to ssh2 with `injectSocket`, so that a
 *   hard stop can destroy them (ssh2 does not expose its sockets).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { appendFileSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import type { AuthContext, Connection, ParsedKey, ServerChannel } from 'ssh2';

const { Server, utils } = ssh2;

export const HOST_KEY_FILES = ['ssh_host_ed25519_key', 'ssh_host_rsa_key'] as const;
export const EXEC_LOG = '.sim-exec.log';

/** Loads the VM's host private key (ed25519 preferred), creating an ed25519 one if there is none. */
export function ensureHostKey(vmDir: string): string {
  for (const file of HOST_KEY_FILES) {
    const path = join(vmDir, file);
    if (existsSync(path)) return readFileSync(path, 'utf8');
  }
  const pair = generateEd25519KeyPair('tart-sim-guest');
  const path = join(vmDir, HOST_KEY_FILES[0]);
  // Write-then-rename, so a guest starting concurrently never reads half a key.
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, pair.private, { mode: 0o600 });
  renameSync(tmp, path);
  writeFileSync(`${path}.pub`, `${pair.public}\n`);
  return pair.private;
}

/**
 * An ed25519 key pair in OpenSSH format. ssh2 1.17's generator drops a leading zero byte of the
 * public key (about 1 key in 128), writing a key that neither ssh2 nor OpenSSH can read back; such a
 * key is thrown away and another one made.
 */
export function generateEd25519KeyPair(comment = ''): { private: string; public: string } {
  for (;;) {
    const pair = utils.generateKeyPairSync('ed25519', { comment });
    if (!(utils.parseKey(pair.private) instanceof Error) && !(utils.parseKey(pair.public) instanceof Error)) return pair;
  }
}

function parse(text: string): ParsedKey {
  const parsed = utils.parseKey(text);
  if (parsed instanceof Error) throw parsed;
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key) throw new Error('no key found');
  return key;
}

/** The OpenSSH fingerprint (`SHA256:` + unpadded base64) of the VM's host key, creating the key if needed. */
export function hostKeyFingerprint(vmDir: string): string {
  const blob = parse(ensureHostKey(vmDir)).getPublicSSH();
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

function readAuthorizedKeys(vmDir: string): ParsedKey[] {
  const path = join(vmDir, 'authorized_keys');
  if (!existsSync(path)) return [];
  const keys: ParsedKey[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const trimmed = line.trim();
    if (!trimmed || trimmed.startsWith('#')) continue;
    try {
      keys.push(parse(trimmed));
    } catch {
      // An unparsable line is skipped, as sshd does.
    }
  }
  return keys;
}

function same(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

export interface SshServerOptions {
  ip: string;
  port: number;
  vmDir: string;
  user: string;
  password: string;
  /** Reject valid credentials until this epoch ms (accounts not ready yet). */
  authFailUntil: number;
  runnerCommand: string;
  /**
   * Called with the stdin of the runner command (the encoded JIT config) and the variables the host
   * exported in front of it; resolves when the runner exits.
   */
  onRunnerCommand: (encodedJitConfig: string, env: Record<string, string>) => Promise<void>;
  /** The command stays in the foreground until the runner exits (`TART_SIM_RUNNER_FOREGROUND=1`). */
  foreground: boolean;
  log: (line: string) => void;
}

export interface SshServerHandle {
  close(): Promise<void>;
}

/** Starts listening; resolves once the port is bound. */
export async function startSshServer(opts: SshServerOptions): Promise<SshServerHandle> {
  const hostKey = ensureHostKey(opts.vmDir);
  const sockets = new Set<Socket>();
  const server = new Server({ hostKeys: [hostKey], ident: 'OpenSSH_9.6-tart-sim' }, (client: Connection) => {
    client.on('error', () => undefined); // a client vanishing mid-handshake is normal during tests
    client.on('authentication', (ctx) => authenticate(ctx, opts));
    client.on('ready', () => {
      client.on('session', (acceptSession) => {
        const session = acceptSession();
        session.on('exec', (accept, _reject, info) => handleExec(accept(), info.command, opts));
        // Shells, ptys and env requests are refused (no listener = rejected by ssh2).
      });
    });
  });
  const net = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    server.injectSocket(socket);
  });
  await new Promise<void>((resolve, reject) => {
    net.once('error', reject);
    net.listen(opts.port, opts.ip, () => {
      net.off('error', reject);
      resolve();
    });
  });
  opts.log(`sshd: listening on ${opts.ip}:${opts.port}`);
  return {
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        net.close(() => resolve());
      }),
  };
}

function authenticate(ctx: AuthContext, opts: SshServerOptions): void {
  const methods: ('password' | 'publickey')[] = ['publickey', 'password'];
  if (ctx.username !== opts.user) return ctx.reject(methods);
  if (ctx.method === 'password') {
    if (!same(Buffer.from(ctx.password), Buffer.from(opts.password))) return ctx.reject(methods);
  } else if (ctx.method === 'publickey') {
    const match = readAuthorizedKeys(opts.vmDir).find(
      (k) => k.type === ctx.key.algo && same(k.getPublicSSH(), ctx.key.data),
    );
    if (!match) return ctx.reject(methods);
    // Without a signature the client only asks whether the key would do; with one, verify it.
    if (ctx.signature && ctx.blob && match.verify(ctx.blob, ctx.signature, ctx.hashAlgo) !== true) {
      return ctx.reject(methods);
    }
    if (!ctx.signature) return ctx.accept();
  } else {
    return ctx.reject(methods);
  }
  if (Date.now() < opts.authFailUntil) {
    opts.log(`sshd: rejecting ${ctx.username} (${ctx.method}): accounts not ready yet`);
    return ctx.reject(methods);
  }
  opts.log(`sshd: accepted ${ctx.method} for ${ctx.username}`);
  ctx.accept();
}

/** `export A=1 B=2; cmd` → ({A: '1', B: '2'}, 'cmd'), the way the SSH adapter sends tier variables. */
export function splitExports(command: string): { env: Record<string, string>; rest: string } {
  const m = /^export ((?:[A-Z_][A-Z0-9_]*=[A-Za-z0-9._-]* ?)+); (.*)$/s.exec(command);
  if (!m) return { env: {}, rest: command };
  const env = Object.fromEntries(m[1]!.trim().split(' ').map((pair) => pair.split('=') as [string, string]));
  return { env, rest: m[2]! };
}

function handleExec(stream: ServerChannel, command: string, opts: SshServerOptions): void {
  appendFileSync(join(opts.vmDir, EXEC_LOG), `${command.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}\n`);
  opts.log(`sshd: exec ${JSON.stringify(command)}`);
  const finish = (code: number, out: string, err = '') => {
    if (out) stream.write(out);
    if (err) stream.stderr.write(err);
    stream.exit(code);
    stream.end();
  };
  const { env, rest } = splitExports(command);
  if (rest === opts.runnerCommand) {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.once('end', () => {
      const runnerExited = opts.onRunnerCommand(Buffer.concat(chunks).toString('utf8').trim(), env);
      if (!opts.foreground) return finish(0, 'runner started\n');
      // Like `./run.sh` started directly: the session lasts as long as the runner.
      void runnerExited.then(() => finish(0, 'runner finished\n'), () => finish(1, '', 'runner crashed\n'));
    });
    return;
  }
  if (command.trim() === 'true') return finish(0, '');
  const word = command.trim().split(/\s+/)[0] ?? '';
  finish(127, '', `zsh: command not found: ${word}\n`);
}
