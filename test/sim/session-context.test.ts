/**
 * The simulated Mac's session context (issue #31, "fakes first"): what the process running `tart`
 * lacks under launchd on macOS 15+.
 * - No unlocked login keychain (`TART_SIM_KEYCHAIN=locked`): `tart run` of a macOS guest fails with
 *   Virtualization.framework's Code=1 text, exit 1, as in cirruslabs/tart #921/#1132; a Linux guest
 *   still boots (#921: only 15+ guests are affected).
 * - Local Network privacy (`TART_SIM_LOCAL_NETWORK=blocked`): the guest's SSH port refuses the host
 *   while `tart exec` (control socket, no IP) works and, inside the guest, sshd listens.
 */
import { connect } from 'node:net';
import { createGoldenImage } from '../../src/sim/tart/install.js';
import { KEYCHAIN_LOCKED_TEXT } from '../../src/sim/tart/vm-process.js';
import { makeTartWorld, waitFor, type TartWorld } from '../adapters/tart-world.js';
import { freePort } from './guest-helpers.js';

let w: TartWorld;
let port: number;

/** Resolves with the connect error code, or 'connected'. */
function tcp(ip: string, p: number): Promise<string> {
  return new Promise((resolve) => {
    const sock = connect({ host: ip, port: p });
    sock.once('connect', () => {
      sock.destroy();
      resolve('connected');
    });
    sock.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

beforeAll(async () => {
  port = await freePort();
  w = makeTartWorld({ TART_SIM_GUEST: '', TART_SIM_SSH_PORT: String(port), TART_SIM_BOOT_MS: '200' });
  createGoldenImage(w.home, 'gold-linux', { cpu: 2, ramMb: 2048, os: 'linux' });
});

afterAll(async () => {
  await w.cleanup();
});

/** Starts `tart run` in the background (it blocks for the VM's life); resolves with its exit once it ends. */
function runInBackground(name: string, env: NodeJS.ProcessEnv): Promise<{ code: number; stderr: string }> {
  return w.tart(['run', name, '--no-graphics'], env);
}

test('no unlocked keychain: a macOS guest fails with the VZ Code=1 text, a Linux guest boots', async () => {
  await w.tart(['clone', 'gold', 'vm-mac']);
  const mac = await w.tart(['run', 'vm-mac', '--no-graphics'], { TART_SIM_KEYCHAIN: 'locked' });
  expect(mac.code).toBe(1);
  expect(mac.stderr.trim()).toBe(KEYCHAIN_LOCKED_TEXT);
  expect(w.events().some((e) => e.event === 'run-start' && e.vm === 'vm-mac')).toBe(false);

  await w.tart(['clone', 'gold-linux', 'vm-lin']);
  const running = runInBackground('vm-lin', { TART_SIM_KEYCHAIN: 'locked' });
  await waitFor(async () => (await w.tart(['ip', 'vm-lin'])).code === 0, 10_000);
  await w.tart(['stop', 'vm-lin']);
  expect((await running).code).toBe(0);
});

test('local network blocked: SSH is refused from the host, tart exec works, and sshd listens inside the guest', async () => {
  await w.tart(['clone', 'gold', 'vm-lnp']);
  const running = runInBackground('vm-lnp', { TART_SIM_LOCAL_NETWORK: 'blocked' });
  await waitFor(async () => (await w.tart(['exec', 'vm-lnp', 'true'])).code === 0, 10_000);
  const ip = (await w.tart(['ip', 'vm-lnp'])).stdout.trim();
  expect(await tcp(ip, port)).toBe('ECONNREFUSED');
  expect((await w.tart(['exec', 'vm-lnp', '/usr/bin/nc', '-z', '127.0.0.1', String(port)])).code).toBe(0);
  await w.tart(['stop', 'vm-lnp']);
  await running;

  // The same VM booted without the block answers on its SSH port.
  const open = runInBackground('vm-lnp', {});
  await waitFor(async () => (await w.tart(['exec', 'vm-lnp', 'true'])).code === 0, 10_000);
  await waitFor(async () => (await tcp(ip, port)) === 'connected', 10_000);
  await w.tart(['stop', 'vm-lnp']);
  await open;
});
