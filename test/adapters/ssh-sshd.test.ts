// The SSH adapter (real node-ssh) against OpenSSH's sshd on loopback, started as a child process with
// a throwaway config, host key and authorized key. Proves public-key auth, host-key pinning against
// ssh-keygen's own fingerprint, run-once, exit codes, the command timeout, and that the JIT config
// reaches the command's stdin and no process's argv or environment (sshd's children included).
//
// sshd is optional on a developer machine: without /usr/sbin/sshd the tests are reported as skipped
// (never as passed), and under CI (CI=true) the first test fails because OpenSSH is missing.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { memoryLogger, type LogEntry } from '../../src/core/logger.js';
import { SshGuest, sshCredentials, type SshGuestOptions } from '../../src/adapters/ssh.js';
import { failure, freePort, opaqueJit, processesContaining } from '../sim/guest-helpers.js';

const SSHD = '/usr/sbin/sshd';
const KEYGEN = '/usr/bin/ssh-keygen';
const available = existsSync(SSHD) && existsSync(KEYGEN);

let dir: string;
let port: number;
let sshd: ChildProcess | undefined;
let sshdLog = '';
let hostFingerprint = '';
let entries: LogEntry[] = [];

/** CI=true (or any value but false/0): the tools are required, so a missing one fails instead of skipping. */
const inCI = !!process.env.CI && !/^(false|0)$/i.test(process.env.CI);
/** Tests that need sshd: skipped (and reported so) where it is missing. */
const sshdTest = available ? test : test.skip;

(inCI || available ? test : test.skip)(`OpenSSH is installed (${SSHD}, ${KEYGEN}); CI must provide it`, () => {
  expect({ sshd: existsSync(SSHD), keygen: existsSync(KEYGEN) }).toEqual({ sshd: true, keygen: true });
});

beforeAll(async () => {
  if (!available) return;
  dir = mkdtempSync(join(tmpdir(), 'tf-sshd-'));
  port = await freePort();
  execFileSync(KEYGEN, ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host_key')]);
  execFileSync(KEYGEN, ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'id_user')]);
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'id_user.pub')));
  hostFingerprint = execFileSync(KEYGEN, ['-lf', join(dir, 'host_key.pub')], { encoding: 'utf8' }).split(' ')[1] ?? '';
  // sshd running as root insists on its privilege-separation directory.
  if (process.getuid?.() === 0 && !existsSync('/run/sshd')) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  writeFileSync(
    join(dir, 'sshd_config'),
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${join(dir, 'host_key')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      'StrictModes no',
      'UsePAM no',
      'PermitRootLogin yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes',
      // Not DEBUG: with -e, the session process would copy debug lines into the command's stderr.
      'LogLevel VERBOSE',
      '',
    ].join('\n'),
  );
  sshd = spawn(SSHD, ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] });
  sshd.stderr?.on('data', (c: Buffer) => (sshdLog += c.toString('utf8')));
});

afterAll(async () => {
  if (sshd && sshd.exitCode === null) {
    const exited = new Promise((r) => sshd?.once('exit', r));
    sshd.kill('SIGTERM');
    await exited;
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  entries = [];
});

function adapter(over: Partial<SshGuestOptions> = {}): SshGuest {
  return new SshGuest({
    user: userInfo().username,
    port,
    ...sshCredentials({}, { ssh_private_key_path: join(dir, 'id_user') }),
    hostKey: hostFingerprint,
    runnerCommand: 'true',
    logger: memoryLogger(entries),
    readyTimeoutMs: 3000,
    retryDelayMs: 100,
    ...over,
  });
}

const deadline = () => Date.now() + 10_000;

sshdTest('runs the command once with the key; the JIT config is on its stdin and in no argv or environment', async () => {
  const jit = opaqueJit();
  const out = join(dir, 'run1');
  mkdirSync(out);
  // The "start script": count its runs, keep stdin, and snapshot every process's argv and environment
  // while the session (sshd, its session child, the shell) is alive.
  const cmd = `echo run >> ${out}/count; cat > ${out}/stdin; cat /proc/[0-9]*/cmdline > ${out}/argv 2>/dev/null; cat /proc/[0-9]*/environ > ${out}/env 2>/dev/null; echo started`;
  await adapter({ runnerCommand: cmd }).startRunner('127.0.0.1', jit, deadline());

  expect(readFileSync(join(out, 'count'), 'utf8')).toBe('run\n');
  expect(readFileSync(join(out, 'stdin'), 'utf8')).toBe(`${jit}\n`);
  const argv = readFileSync(join(out, 'argv'), 'latin1');
  expect(argv).toContain('sshd'); // the snapshot did see sshd's processes
  expect(argv).not.toContain(jit);
  expect(readFileSync(join(out, 'env'), 'latin1')).not.toContain(jit);
  expect(processesContaining(jit)).toEqual([]);
  expect(JSON.stringify(entries)).not.toContain(jit);
  expect(sshdLog).not.toContain(jit);
  expect(entries.map((e) => e.msg)).toEqual(expect.arrayContaining(['ssh connected', 'runner command exited 0']));
});

sshdTest('host key: the fingerprint ssh-keygen prints is accepted as a pin; another is rejected at once', async () => {
  expect(hostFingerprint).toMatch(/^SHA256:/);
  await adapter().startRunner('127.0.0.1', opaqueJit(), deadline());
  entries.length = 0;
  const other = `SHA256:${'B'.repeat(43)}`;
  const err = await failure(adapter({ hostKey: other }).startRunner('127.0.0.1', opaqueJit(), deadline()));
  expect(err.kind).toBe('host-key');
  expect(err.message).toContain(hostFingerprint);
  expect(entries.filter((e) => e.msg === 'ssh connect attempt')).toHaveLength(1);
});

sshdTest('a non-zero exit is command-failed with the first stderr line, and a JIT echoed to stderr is redacted', async () => {
  const err = await failure(adapter({ runnerCommand: 'echo boom >&2; echo second >&2; exit 3' }).startRunner('127.0.0.1', opaqueJit(), deadline()));
  expect(err.kind).toBe('command-failed');
  expect(err.message).toBe('runner command exited 3: boom');

  const jit = opaqueJit();
  const leak = await failure(adapter({ runnerCommand: 'cat >&2; exit 1' }).startRunner('127.0.0.1', jit, deadline()));
  expect(leak.message).toBe('runner command exited 1: [REDACTED]');
});

sshdTest('a command that stays in the foreground is accepted at once, sees the tier variables, and exited follows it to its end', async () => {
  const marker = join(dir, 'fg-done');
  const seen = join(dir, 'fg-env');
  const launch = await adapter({ runnerCommand: `echo "$TF_TRUST/$TF_CACHE" > ${seen}; sleep 2; touch ${marker}` })
    .launchRunner({ vm: 'vm-1', ip: '127.0.0.1', image: 'gold' }, opaqueJit(), deadline(), { TF_TRUST: 'untrusted', TF_CACHE: 'ro' });
  expect(existsSync(marker)).toBe(false);
  await launch.exited;
  expect(existsSync(marker)).toBe(true);
  expect(readFileSync(seen, 'utf8')).toBe('untrusted/ro\n');
});

sshdTest('a key sshd does not know is an auth failure (fatal once the grace is over)', async () => {
  execFileSync(KEYGEN, ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'id_stranger')]);
  const err = await failure(
    adapter({ ...sshCredentials({}, { ssh_private_key_path: join(dir, 'id_stranger') }), authGraceMs: 0 }).startRunner('127.0.0.1', opaqueJit(), deadline()),
  );
  expect(err.kind).toBe('auth');
});
