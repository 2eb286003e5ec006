// The simulated guest end to end: real node-ssh (through the SSH adapter) starts the runner with a JIT
// config on stdin; the simulated runner talks to a stub of the fake GitHub's broker, runs its job,
// completes it, and the guest powers off (or stays up, or hangs, as the TART_SIM_* switches say).
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memoryLogger, type LogEntry } from '../../src/core/logger.js';
import { SshGuest } from '../../src/adapters/ssh.js';
import { EXEC_LOG, hostKeyFingerprint, startSimulatedGuest, type SimulatedGuest } from '../../src/sim/guest/guest.js';
import { decodeJitConfig } from '../../src/sim/guest/runner.js';
import {
  encodeJit,
  freePort,
  opaqueJit,
  processesContaining,
  settlesWithin,
  startStubBroker,
  waitFor,
  type StubBroker,
} from './guest-helpers.js';

const RUNNER = '/Users/admin/actions-runner/start-jit-runner.sh';

let vmDir: string;
let guest: SimulatedGuest | undefined;
let broker: StubBroker;
let secret = '';
let port: number;
let guestLog: string[];
let entries: LogEntry[];

beforeEach(async () => {
  vmDir = mkdtempSync(join(tmpdir(), 'tf-guest-'));
  port = await freePort('127.0.0.2');
  guestLog = [];
  entries = [];
  broker = await startStubBroker(() => secret);
});

afterEach(async () => {
  await guest?.stop();
  guest = undefined;
  await broker.close();
  rmSync(vmDir, { recursive: true, force: true });
});

async function boot(env: NodeJS.ProcessEnv = {}): Promise<SimulatedGuest> {
  guest = await startSimulatedGuest({
    vmName: 'tf-mac-coder-7',
    ip: '127.0.0.2',
    sshPort: port,
    vmDir,
    bootDelayMs: 150,
    env: { TART_SIM_SPEED: '10', ...env },
    log: (l) => guestLog.push(l),
  });
  return guest;
}

async function startRunner(jit: string): Promise<void> {
  const ssh = new SshGuest({
    user: 'admin',
    port,
    password: 'admin',
    hostKey: hostKeyFingerprint(vmDir),
    runnerCommand: RUNNER,
    logger: memoryLogger(entries),
    readyTimeoutMs: 2000,
    retryDelayMs: 100,
  });
  await ssh.startRunner('127.0.0.2', jit, Date.now() + 10_000);
}

const has = (text: string) => guestLog.some((l) => l.includes(text));

test('decodeJitConfig reads the .runner and .credentials files, and refuses garbage without quoting it', () => {
  const { encoded, secret: s } = encodeJit({ agentId: 42, serverUrl: 'http://127.0.0.1:9/' });
  expect(decodeJitConfig(encoded)).toEqual({ agentId: 42, agentName: 'tf-coder-42', poolId: 1, serverUrl: 'http://127.0.0.1:9', secret: s });
  const junk = opaqueJit();
  expect(() => decodeJitConfig(junk)).toThrow('the JIT config is not base64 JSON with .runner and .credentials entries');
});

test('the runner connects, runs its one job, completes it, and the guest powers off', async () => {
  const jit = encodeJit({ agentId: 7, serverUrl: broker.url });
  secret = jit.secret;
  broker.jobs.push({ id: 9001, name: 'build (macos)', repo: 'org/app', duration_ms: 300 });
  const g = await boot();
  await startRunner(jit.encoded);

  expect(await settlesWithin(g.poweredOff, 8000)).toBe(true);
  expect(broker.completed).toEqual([{ id: '9001', result: 'succeeded' }]);
  expect(broker.calls[0]).toMatchObject({ method: 'POST', path: '/_sim/broker/sessions', auth: `Bearer ${jit.secret}`, body: { runnerId: 7 } });
  expect(broker.calls.every((c) => c.auth === `Bearer ${jit.secret}`)).toBe(true);
  const markers = ['√ Connected to GitHub', 'Listening for Jobs', 'Running job: build (macos)', 'Job build (macos) completed with result: Succeeded', 'powered off (runner finished)'];
  for (const m of markers) expect(has(m)).toBe(true);
  const at = (m: string) => guestLog.findIndex((l) => l.includes(m));
  expect(markers.map(at)).toEqual([...markers.map(at)].sort((a, b) => a - b));

  // The JIT config and its secret went only over stdin and HTTP headers.
  expect(readFileSync(join(vmDir, EXEC_LOG), 'utf8')).toBe(`${RUNNER}\n`);
  for (const needle of [jit.encoded, jit.secret]) {
    expect(guestLog.join('\n')).not.toContain(needle);
    expect(JSON.stringify(entries)).not.toContain(needle);
    expect(processesContaining(needle)).toEqual([]);
  }
});

test('TART_SIM_GUEST_STAYS_UP=1: the job completes but the guest stays up until stop()', async () => {
  const jit = encodeJit({ agentId: 8, serverUrl: broker.url });
  secret = jit.secret;
  broker.jobs.push({ id: 9002, name: 'lint', repo: 'org/app', duration_ms: 100 });
  const g = await boot({ TART_SIM_GUEST_STAYS_UP: '1' });
  await startRunner(jit.encoded);
  expect(await waitFor(() => broker.completed.length === 1, 5000)).toBe(true);
  expect(await settlesWithin(g.poweredOff, 500)).toBe(false);
  expect(has('staying up')).toBe(true);
  await g.stop();
  expect(await settlesWithin(g.poweredOff, 5000)).toBe(true);
});

test('TART_SIM_JOB_HANG=1: the job never finishes; stop() abandons the runner', async () => {
  const jit = encodeJit({ agentId: 9, serverUrl: broker.url });
  secret = jit.secret;
  broker.jobs.push({ id: 9003, name: 'forever', repo: 'org/app', duration_ms: 10 });
  const g = await boot({ TART_SIM_JOB_HANG: '1' });
  await startRunner(jit.encoded);
  expect(await waitFor(() => has('Running job: forever'), 5000)).toBe(true);
  expect(await settlesWithin(g.poweredOff, 600)).toBe(false);
  expect(broker.completed).toEqual([]);
  await g.stop();
  expect(await settlesWithin(g.poweredOff, 5000)).toBe(true);
  expect(await waitFor(() => has('runner exited (aborted)'), 1000)).toBe(true);
});

test('the runner rides out a broker outage answering 5xx', async () => {
  const jit = encodeJit({ agentId: 10, serverUrl: broker.url });
  secret = jit.secret;
  broker.jobs.push({ id: 9004, name: 'test', repo: 'org/app', duration_ms: 10 });
  let failing = 3;
  broker.intercept = () => (failing-- > 0 ? 503 : undefined);
  const g = await boot();
  await startRunner(jit.encoded);
  expect(await settlesWithin(g.poweredOff, 8000)).toBe(true);
  expect(has('answered 503, retrying')).toBe(true);
  expect(broker.completed).toHaveLength(1);
});

test('the runner keeps retrying while the broker does not answer at all, and proceeds once it is back', async () => {
  const late = await freePort();
  const jit = encodeJit({ agentId: 13, serverUrl: `http://127.0.0.1:${late}` });
  secret = jit.secret;
  const g = await boot();
  await startRunner(jit.encoded);
  expect(await waitFor(() => has('Failed to reach GitHub Actions service'), 3000)).toBe(true);
  const back = await startStubBroker(() => secret, late);
  try {
    back.jobs.push({ id: 9005, name: 'after-outage', repo: 'org/app', duration_ms: 10 });
    expect(await settlesWithin(g.poweredOff, 8000)).toBe(true);
    expect(back.completed).toEqual([{ id: '9005', result: 'succeeded' }]);
  } finally {
    await back.close();
  }
});

test('a runner deleted on the server (404) exits and the guest powers off', async () => {
  const jit = encodeJit({ agentId: 11, serverUrl: broker.url });
  secret = jit.secret;
  broker.intercept = (c) => (c.path.endsWith('/message') ? 404 : undefined);
  const g = await boot();
  await startRunner(jit.encoded);
  expect(await settlesWithin(g.poweredOff, 5000)).toBe(true);
  expect(has('The runner no longer exists on the server. Cleaning up local configuration.')).toBe(true);
});

test('a second start of the same JIT config gets a session conflict (409)', async () => {
  const jit = encodeJit({ agentId: 12, serverUrl: broker.url });
  secret = jit.secret;
  broker.intercept = (c) => (c.path === '/_sim/broker/sessions' ? 409 : undefined);
  const g = await boot();
  await startRunner(jit.encoded);
  expect(await settlesWithin(g.poweredOff, 5000)).toBe(true);
  expect(has('A session for this runner already exists.')).toBe(true);
});

test('an undecodable JIT config: "Runner is not configured", the guest powers off', async () => {
  const junk = opaqueJit();
  const g = await boot();
  await startRunner(junk);
  expect(await settlesWithin(g.poweredOff, 5000)).toBe(true);
  expect(has('Runner is not configured.')).toBe(true);
  expect(guestLog.join('\n')).not.toContain(junk);
  expect(broker.calls).toEqual([]);
});

test('clones share the golden image host key (the VM directory is copied)', () => {
  const golden = hostKeyFingerprint(vmDir);
  expect(hostKeyFingerprint(vmDir)).toBe(golden); // stable, not regenerated
  const clone = mkdtempSync(join(tmpdir(), 'tf-clone-'));
  try {
    cpSync(vmDir, clone, { recursive: true });
    expect(hostKeyFingerprint(clone)).toBe(golden);
  } finally {
    rmSync(clone, { recursive: true, force: true });
  }
  const other = mkdtempSync(join(tmpdir(), 'tf-other-'));
  try {
    expect(hostKeyFingerprint(other)).not.toBe(golden);
  } finally {
    rmSync(other, { recursive: true, force: true });
  }
});

test('stop() before boot finishes: sshd never answers, poweredOff resolves', async () => {
  guest = await startSimulatedGuest({ vmName: 'tf-x', ip: '127.0.0.2', sshPort: port, vmDir, bootDelayMs: 300, env: {}, log: (l) => guestLog.push(l) });
  await guest.stop();
  expect(await settlesWithin(guest.poweredOff, 5000)).toBe(true);
  await new Promise((r) => setTimeout(r, 400));
  expect(has('sshd: listening')).toBe(false);
});
