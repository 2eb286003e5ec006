// `tart-fleet selftest` as a user runs it (the real bin in a child process) against the simulated
// world: the real tart adapter drives the fake tart, the SSH check reaches the simulated guest. It
// passes, leaves no VM behind, never talks to GitHub, and fails clearly without the golden image.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { jest } from '@jest/globals';
import { SimWorld } from '../../src/sim/world.js';
import { compareVersions, guestChecks } from '../../src/cli/selftest.js';
import { BIN, runBin, simWorldForAll } from './cli-helpers.js';

jest.setTimeout(120_000);

let world: SimWorld;
simWorldForAll({ speed: 40 }, (w) => (world = w));

const selftest = (extra: Record<string, string> = {}, args: string[] = []) => runBin(['selftest', '--config', world.configPath, ...args], { env: world.daemonEnv(extra), cwd: world.dir });

/** The fake tart's fault injection (src/sim/tart/store.ts: `.sim/faults.json`, read on every call). */
function setTartFaults(faults: Record<string, unknown>): void {
  mkdirSync(join(world.tartHome, '.sim'), { recursive: true });
  writeFileSync(join(world.tartHome, '.sim', 'faults.json'), JSON.stringify(faults));
}

// Everything but the simulated Mac's golden images (macOS `workhorse`, Linux `workhorse-linux` for the coder).
const ourVms = async () => (await world.tartList()).map((v) => v.Name).filter((n) => n !== 'workhorse' && n !== 'workhorse-linux');

test('passes in the simulated world: clone, boot, ssh; checks the guest cannot run are unknown; the clone is gone after', async () => {
  const requestsBefore = world.github.requestCount();
  const { code, stdout } = await selftest();
  expect(stdout).toMatch(/^ok {3}clone: workhorse → tf-sim-mac-selftest-\d+ \(2 CPU, 4096 MB, profile coder\)$/m);
  expect(stdout).toMatch(/^ok {3}boot: tf-sim-mac-selftest-\d+ has IP 127\.\d+\.\d+\.\d+ after/m);
  expect(stdout).toMatch(/^ok {3}ssh: admin@127\./m);
  // The simulated guest knows only the runner command: these proved nothing, and say so.
  expect(stdout).toMatch(/^warn runner version: unknown: the guest could not run the check/m);
  expect(stdout).toMatch(/^warn cache mount: unknown/m);
  expect(stdout).toMatch(/^ok {3}cleanup: tf-sim-mac-selftest-\d+ stopped and deleted$/m);
  expect(stdout).not.toMatch(/^FAIL/m);
  expect(code).toBe(0);
  expect(await ourVms()).toEqual([]);
  expect(world.tartEvents().map((e) => e.event)).toEqual(expect.arrayContaining(['clone', 'set', 'run-start', 'delete']));
  expect(world.github.requestCount()).toBe(requestsBefore);
});

test('a missing golden image: exit 1 naming it and how to build it; nothing cloned', async () => {
  const events = world.tartEvents().length;
  // The developer profile boots vm.image (the simulated coder has an image of its own).
  const { code, stderr } = await selftest({ TART_FLEET_VM_IMAGE: 'no-such-image' }, ['--profile', 'developer']);
  expect(code).toBe(1);
  expect(stderr).toMatch(/^golden image no-such-image not found: build it with images\/build-workhorse\.sh/m);
  expect(world.tartEvents().slice(events).filter((e) => e.event === 'clone')).toEqual([]);
});

test('a guest that never gets an IP: FAIL with a fix, exit 1, and the clone is still deleted', async () => {
  setTartFaults({ ip: { never: true } });
  try {
    const { code, stdout } = await selftest({ TART_FLEET_VM_BOOT_TIMEOUT_SECONDS: '3' });
    expect(stdout).toMatch(/^FAIL tart ip: .* — fix: the guest got no DHCP lease/m);
    expect(stdout).toMatch(/^ok {3}cleanup:/m);
    expect(code).toBe(1);
  } finally {
    setTartFaults({});
  }
  expect(await ourVms()).toEqual([]);
});

test('SIGINT while booting: exit 130 and the clone is removed', async () => {
  const child = spawn(process.execPath, [BIN, 'selftest', '--config', world.configPath], { env: world.daemonEnv({ TART_FLEET_VM_BOOT_TIMEOUT_SECONDS: '60' }), cwd: world.dir });
  let out = '';
  child.stdout.on('data', (d) => (out += String(d)));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  // Wait for the event that proves the clone exists (the world's record), then interrupt.
  setTartFaults({ ip: { never: true } });
  try {
    for (let i = 0; i < 600 && !/^ok {3}clone:/m.test(out); i++) await new Promise((r) => setTimeout(r, 100));
    expect(out).toMatch(/^ok {3}clone:/m);
    child.kill('SIGINT');
    expect(await exited).toBe(130);
  } finally {
    setTartFaults({});
  }
  expect(out).toMatch(/^FAIL interrupted:/m);
  expect(await ourVms()).toEqual([]);
});

test('guest checks judge real answers: versions, missing tools, and what a real guest says', () => {
  const [runner, node] = guestChecks();
  expect(runner!.judge({ code: 0, stdout: '2.336.0\n', stderr: '' }).status).toBe('ok');
  expect(runner!.judge({ code: 0, stdout: '2.328.0\n', stderr: '' })).toEqual(expect.objectContaining({ status: 'fail', detail: expect.stringMatching(/older than 2\.329\.0/) }));
  expect(runner!.judge({ code: 127, stdout: '', stderr: 'zsh:1: no such file or directory: /Users/admin/actions-runner/bin/Runner.Listener\n' }).status).toBe('fail');
  expect(node!.judge({ code: 1, stdout: '', stderr: '' })).toEqual(expect.objectContaining({ status: 'fail', what: 'guest node' }));
  expect(node!.judge({ code: 0, stdout: '/opt/homebrew/bin/node\n', stderr: '' }).status).toBe('ok');
  expect(compareVersions('2.329.0', '2.329.0')).toBe(0);
  expect(compareVersions('2.330.1', '2.329.9')).toBe(1);
});
