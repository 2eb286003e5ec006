// The SSH adapter (real node-ssh) against the simulated guest's ssh2 server on loopback:
// boot retries, the auth grace, host-key pinning, run-once, exit codes, and where the JIT config may
// (stdin) and may not (argv, exec log, log lines) appear.
import { execFileSync } from 'node:child_process';
import { createServer, type Socket } from 'node:net';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { memoryLogger, type LogEntry } from '../../src/core/logger.js';
import { SshGuest, sshCredentials, sshFingerprint, type SshGuestOptions } from '../../src/adapters/ssh.js';
import { generateEd25519KeyPair } from '../../src/sim/guest/ssh-server.js';
import { EXEC_LOG, hostKeyFingerprint, startSimulatedGuest, type SimulatedGuest } from '../../src/sim/guest/guest.js';
import { failure, freePort, opaqueJit, processesContaining, settlesWithin } from '../sim/guest-helpers.js';

const RUNNER = '/Users/admin/actions-runner/start-jit-runner.sh';

let vmDir: string;
let guest: SimulatedGuest | undefined;
let port: number;
let entries: LogEntry[];
let guestLog: string[];

beforeEach(async () => {
  vmDir = mkdtempSync(join(tmpdir(), 'tf-ssh-'));
  port = await freePort();
  entries = [];
  guestLog = [];
});

afterEach(async () => {
  await guest?.stop();
  guest = undefined;
  rmSync(vmDir, { recursive: true, force: true });
});

/**
 * Boots the simulated guest; it stays up after its runner exits unless `env` says otherwise (the
 * opaque JIT configs used here make the runner exit at once). With no boot delay, waits for sshd.
 */
async function boot(env: NodeJS.ProcessEnv = {}, bootDelayMs = 0, ip = '127.0.0.1'): Promise<SimulatedGuest> {
  guest = await startSimulatedGuest({
    vmName: 'tf-mac-coder-1',
    ip,
    sshPort: port,
    vmDir,
    bootDelayMs,
    env: { TART_SIM_GUEST_STAYS_UP: '1', ...env },
    log: (l) => guestLog.push(l),
  });
  if (bootDelayMs === 0) expect(await waitForLine(/sshd: listening/)).toBe(true);
  return guest;
}

function adapter(over: Partial<SshGuestOptions> = {}): SshGuest {
  return new SshGuest({
    user: 'admin',
    port,
    password: 'admin',
    hostKey: 'accept-any',
    runnerCommand: RUNNER,
    logger: memoryLogger(entries),
    readyTimeoutMs: 2000,
    retryDelayMs: 100,
    ...over,
  });
}

const attempts = () => entries.filter((e) => e.msg === 'ssh connect attempt').length;
const execLog = () => (existsSync(join(vmDir, EXEC_LOG)) ? readFileSync(join(vmDir, EXEC_LOG), 'utf8') : '');

test('retries while the port is closed, succeeds once the guest boots, runs the command once, JIT only on stdin', async () => {
  const jit = opaqueJit();
  await boot({}, 700, '127.0.0.3');
  await adapter().startRunner('127.0.0.3', jit, Date.now() + 10_000);

  expect(attempts()).toBeGreaterThan(1);
  expect(entries.some((e) => e.msg === 'ssh not ready, retrying' && String(e.ctx.reason).includes('ECONNREFUSED'))).toBe(true);
  expect(entries.some((e) => e.msg === 'runner command exited 0')).toBe(true);
  // Exactly one exec, of exactly the configured command.
  expect(execLog()).toBe(`${RUNNER}\n`);
  // The guest received it on stdin (the runner tried to decode it and gave up: not a real JIT).
  expect(await waitForLine(/Runner is not configured/)).toBe(true);
  // Never in argv or any environment, a log line or the exec log.
  expect(processesContaining(jit)).toEqual([]);
  expect(JSON.stringify(entries)).not.toContain(jit);
  expect(guestLog.join('\n')).not.toContain(jit);
  expect(execLog()).not.toContain(jit);
});

async function waitForLine(re: RegExp): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if (guestLog.some((l) => re.test(l))) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}

test('deadline passed with nothing listening: unreachable', async () => {
  const started = Date.now();
  const err = await failure(adapter().startRunner('127.0.0.1', opaqueJit(), Date.now() + 800));
  expect(err.kind).toBe('unreachable');
  expect(err.message).toMatch(/ECONNREFUSED/);
  // Bounded by the deadline, not by readyTimeout (5 s) times attempts; generous for a loaded machine.
  expect(Date.now() - started).toBeLessThan(4500);
  expect(attempts()).toBeGreaterThan(1);
});

test('authentication failure is retried within the grace period (accounts not ready yet)', async () => {
  await boot({ TART_SIM_SSH_AUTH_FAIL_MS: '1000' });
  await adapter({ authGraceMs: 6000, retryDelayMs: 200 }).startRunner('127.0.0.1', opaqueJit(), Date.now() + 10_000);
  expect(guestLog.some((l) => l.includes('accounts not ready yet'))).toBe(true);
  expect(execLog()).toBe(`${RUNNER}\n`);
});

test('authentication failure becomes fatal after the grace period, long before the deadline', async () => {
  await boot({ TART_SIM_SSH_AUTH_FAIL_MS: '60000' });
  const started = Date.now();
  const err = await failure(adapter({ authGraceMs: 600, retryDelayMs: 150 }).startRunner('127.0.0.1', opaqueJit(), Date.now() + 60_000));
  expect(err.kind).toBe('auth');
  expect(err.message).toMatch(/authentication failed/);
  expect(Date.now() - started).toBeLessThan(20_000);
  expect(attempts()).toBeGreaterThan(1);
  expect(execLog()).toBe('');
});

test('a wrong password is fatal with authGraceMs 0, and the password is not in the error', async () => {
  await boot();
  const err = await failure(adapter({ password: 'wrong-password-123', authGraceMs: 0 }).startRunner('127.0.0.1', opaqueJit(), Date.now() + 10_000));
  expect(err.kind).toBe('auth');
  expect(err.message).not.toContain('wrong-password-123');
  expect(attempts()).toBe(1);
});

test('host key pinning: the golden fingerprint is accepted, another one is rejected without retry', async () => {
  await boot();
  const pin = hostKeyFingerprint(vmDir);
  expect(pin).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  await adapter({ hostKey: pin }).startRunner('127.0.0.1', opaqueJit(), Date.now() + 10_000);
  expect(entries.some((e) => e.msg === 'ssh connected' && e.ctx.host_key === 'pinned')).toBe(true);
  await adapter({ hostKey: `${pin}=` }).startRunner('127.0.0.1', opaqueJit(), Date.now() + 10_000); // padded form

  entries.length = 0;
  const wrong = `SHA256:${'A'.repeat(43)}`;
  const err = await failure(adapter({ hostKey: wrong }).startRunner('127.0.0.1', opaqueJit(), Date.now() + 10_000));
  expect(err.kind).toBe('host-key');
  expect(err.message).toContain(pin);
  expect(err.message).toContain(wrong);
  expect(attempts()).toBe(1);
  expect(execLog()).toBe(`${RUNNER}\n${RUNNER}\n`); // only the two pinned runs exec'd
});

test('sshFingerprint matches ssh-keygen -lf for the simulated host key', () => {
  const pin = hostKeyFingerprint(vmDir);
  const pub = ssh2.utils.parseKey(readFileSync(join(vmDir, 'ssh_host_ed25519_key'), 'utf8'));
  if (pub instanceof Error || Array.isArray(pub)) throw new Error('unparsable');
  expect(sshFingerprint(pub.getPublicSSH())).toBe(pin);
  if (existsSync('/usr/bin/ssh-keygen')) {
    const out = execFileSync('/usr/bin/ssh-keygen', ['-lf', join(vmDir, 'ssh_host_ed25519_key.pub')], { encoding: 'utf8' });
    expect(out.split(' ')[1]).toBe(pin);
  }
});

test('a non-zero exit is command-failed with the first stderr line', async () => {
  await boot();
  const err = await failure(adapter({ runnerCommand: '/no/such/start.sh --flag' }).startRunner('127.0.0.1', opaqueJit(), Date.now() + 10_000));
  expect(err.kind).toBe('command-failed');
  expect(err.message).toBe('runner command exited 127: zsh: command not found: /no/such/start.sh');
  expect(execLog()).toBe('/no/such/start.sh --flag\n');
});

test('public key authentication through sshCredentials and authorized_keys', async () => {
  const pair = generateEd25519KeyPair();
  const keyPath = join(vmDir, 'id_test');
  writeFileSync(keyPath, pair.private, { mode: 0o600 });
  writeFileSync(join(vmDir, 'authorized_keys'), `# comment\n${pair.public} test\n`);
  await boot();
  const creds = sshCredentials({}, { ssh_private_key_path: keyPath });
  expect(creds.privateKey).toBe(pair.private);
  await adapter({ password: undefined, ...creds }).startRunner('127.0.0.1', opaqueJit(), Date.now() + 10_000);
  expect(guestLog.some((l) => l.includes('accepted publickey for admin'))).toBe(true);
});

test('sshCredentials: password from the env, errors that name what is missing, never the secret', () => {
  expect(sshCredentials({ TART_FLEET_SSH_PASSWORD: 's3cret-pw' }, {})).toEqual({ password: 's3cret-pw' });
  expect(() => sshCredentials({}, {})).toThrow('no SSH credentials for the guest: set TART_FLEET_SSH_PASSWORD_FILE=<path of a chmod 600 file> (or TART_FLEET_SSH_PASSWORD), or vm.ssh_private_key_path');
  expect(() => sshCredentials({}, { ssh_private_key_path: join(vmDir, 'missing') })).toThrow(/vm.ssh_private_key_path: cannot read .*missing \(ENOENT\)/);
  writeFileSync(join(vmDir, 'not-a-key'), 'hello');
  expect(() => sshCredentials({ TART_FLEET_SSH_PASSWORD: 's3cret-pw' }, { ssh_private_key_path: join(vmDir, 'not-a-key') })).toThrow(/does not hold a PEM or OpenSSH private key/);
});

test('the constructor rejects a malformed host key policy', () => {
  expect(() => adapter({ hostKey: 'md5:abc' })).toThrow(/vm.ssh_host_key/);
});

test('the guest powers itself off after its runner exits: the port closes and poweredOff resolves', async () => {
  const g = await boot({ TART_SIM_GUEST_STAYS_UP: '' });
  await adapter().startRunner('127.0.0.1', opaqueJit(), Date.now() + 5000);
  // The runner exits at once on an undecodable config, so the guest powers itself off.
  expect(await settlesWithin(g.poweredOff, 3000)).toBe(true);
  entries.length = 0;
  const err = await failure(adapter().startRunner('127.0.0.1', opaqueJit(), Date.now() + 500));
  expect(err.kind).toBe('unreachable');
});

test('a guest that accepts TCP but never speaks SSH, or hangs up at once, is retried until the deadline', async () => {
  const sockets = new Set<Socket>();
  let mode: 'silent' | 'hang-up' = 'silent';
  const srv = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    if (mode === 'hang-up') s.destroy();
  });
  await new Promise<void>((r) => srv.listen(port, '127.0.0.1', () => r()));
  try {
    const silent = await failure(adapter({ readyTimeoutMs: 300 }).startRunner('127.0.0.1', opaqueJit(), Date.now() + 1200));
    expect(silent.kind).toBe('unreachable');
    expect(silent.message).toMatch(/Timed out while waiting for handshake/);
    expect(attempts()).toBeGreaterThan(1);

    mode = 'hang-up';
    entries.length = 0;
    const hungUp = await failure(adapter().startRunner('127.0.0.1', opaqueJit(), Date.now() + 2500));
    expect(hungUp.kind).toBe('unreachable');
    // The attempt cut short by the deadline may end in a timeout; the hang-ups before it were retried.
    const hangUps = entries.filter((e) => e.msg === 'ssh not ready, retrying' && /Connection lost before handshake|No response from server|ECONNRESET/.test(String(e.ctx.reason)));
    expect(hangUps.length).toBeGreaterThan(0);
    expect(attempts()).toBeGreaterThan(1);
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise((r) => srv.close(r));
  }
});

test('the injected clock decides the deadline: no attempt once it has passed', async () => {
  const err = await failure(adapter({ now: () => 2_000_000 }).startRunner('127.0.0.1', opaqueJit(), 1_000_000));
  expect(err.kind).toBe('unreachable');
  expect(attempts()).toBe(0);
});
