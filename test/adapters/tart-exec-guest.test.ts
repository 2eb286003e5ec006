/**
 * `vm.runner_delivery: exec`: the JIT config reaches the simulated guest through `tart exec -i` on
 * stdin (real zx-free spawn against the fake tart, whose control socket hands it to the simulated
 * guest), never through argv or a file; agent missing, VM stopped and a failing command are errors.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TartAdapter } from '../../src/adapters/tart.js';
import { TartExecGuest } from '../../src/adapters/tart-exec-guest.js';
import { memoryLogger } from '../../src/core/logger.js';
import { GuestError } from '../../src/core/ports.js';
import { freePort } from '../sim/guest-helpers.js';
import { makeTartWorld, runOptsIn, waitFor, type TartWorld } from './tart-world.js';

const RUNNER = '/Users/admin/actions-runner/start-jit-runner.sh';
const SECRET = 'jit-secret-value-7f3a';
// A JIT config whose broker does not answer: the simulated runner keeps retrying until the VM stops.
const JIT = Buffer.from(
  JSON.stringify({
    '.runner': Buffer.from(JSON.stringify({ agentId: 7, agentName: 'tf-coder-1', serverUrl: 'http://127.0.0.1:9/' })).toString('base64'),
    '.credentials': Buffer.from(JSON.stringify({ scheme: 'OAuth', data: { secret: SECRET } })).toString('base64'),
  }),
).toString('base64');

let w: TartWorld;
let tart: TartAdapter;
const logger = memoryLogger();

beforeAll(async () => {
  // The real simulated guest (not the stub): it plays the runner the exec starts.
  w = makeTartWorld({ TART_SIM_GUEST: '', TART_SIM_SSH_PORT: String(await freePort()), TART_SIM_BOOT_MS: '300' });
  tart = new TartAdapter({ tartBin: w.bin, logger, env: w.env, timeouts: { runStartupMs: 800 } });
});

afterAll(async () => {
  await w.cleanup();
});

const guest = (over: Partial<ConstructorParameters<typeof TartExecGuest>[0]> = {}) =>
  new TartExecGuest({ tart, runnerCommand: RUNNER, logger, retryDelayMs: 100, ...over });

test('the runner command gets the JIT config on stdin; argv, the exec log and our log never hold it', async () => {
  await tart.clone('gold', 'vm-x');
  const opts = runOptsIn(w.dir, 'vm-x');
  await tart.run('vm-x', opts);
  await tart.ip('vm-x', 30);
  // Addressed by name (never looked up by IP): the port's target carries both.
  await (await guest().launchRunner({ vm: 'vm-x', ip: '192.0.2.1', image: 'gold' }, JIT, Date.now() + 30_000, {})).exited;
  await waitFor(() => readFileSync(opts.logFile, 'utf8').includes('guest: runner starting'), 10_000);
  const execLog = readFileSync(join(w.home, 'vms', 'vm-x', '.sim-exec.log'), 'utf8');
  expect(execLog).toContain(RUNNER);
  const everything = [execLog, readFileSync(opts.logFile, 'utf8'), JSON.stringify(logger.entries)].join('\n');
  expect(everything).not.toContain(SECRET);
  expect(everything).not.toContain(JIT);
  const execs = logger.entries.filter((e) => e.msg === 'tart command' && (e.ctx.command as string[])[0] === 'exec');
  expect(execs.at(-1)?.ctx.command).toEqual(['exec', '-i', 'vm-x', 'zsh', '-c', RUNNER]);
  await tart.stop('vm-x', 2);
  await tart.delete('vm-x');
});

test('a command the guest does not know fails as command-failed; a stopped VM is unreachable at once', async () => {
  await tart.clone('gold', 'vm-y');
  await tart.run('vm-y', runOptsIn(w.dir, 'vm-y'));
  const bad = guest({ runnerCommand: '/no/such/script' });
  const failed = await bad.startRunnerIn('vm-y', JIT, Date.now() + 30_000).catch((e: unknown) => e);
  expect(failed).toBeInstanceOf(GuestError);
  expect((failed as GuestError).kind).toBe('command-failed');
  expect((failed as GuestError).message).toMatch(/exited 127/);
  await tart.stop('vm-y', 2);
  const stopped = await guest().startRunnerIn('vm-y', JIT, Date.now() + 30_000).catch((e: unknown) => e);
  expect(stopped).toMatchObject({ kind: 'unreachable', message: expect.stringMatching(/not running/) });
  await tart.delete('vm-y');
});

test('without the Tart Guest Agent, exec cannot connect and the runner is never started', async () => {
  const noAgent = new TartAdapter({ tartBin: w.bin, logger, env: { ...w.env, TART_SIM_GUEST_AGENT: 'none' }, timeouts: { runStartupMs: 800 } });
  await noAgent.clone('gold', 'vm-z');
  await noAgent.run('vm-z', runOptsIn(w.dir, 'vm-z'));
  const direct = await w.tart(['exec', 'vm-z', 'true']);
  expect(direct.code).toBe(1);
  expect(direct.stderr).toMatch(/Failed to connect to the VM using its control socket: .*, is the Tart Guest Agent running\?/);
  const e = await new TartExecGuest({ tart: noAgent, runnerCommand: RUNNER, logger, retryDelayMs: 100 }).startRunnerIn('vm-z', JIT, Date.now() + 2000).catch((x: unknown) => x);
  expect(e).toMatchObject({ kind: 'unreachable', message: expect.stringMatching(/Guest Agent/) });
  expect(existsSync(join(w.home, 'vms', 'vm-z', '.sim-exec.log'))).toBe(false);
  await noAgent.stop('vm-z', 2);
  await noAgent.delete('vm-z');
});

test('given the VM name, the JIT config goes to that VM even when another running VM resolves to the same IP', async () => {
  // Audit turn4-security N5 (e8): the target was found by IP over every running VM, first match
  // wins, so a foreign VM listed first with the same address received the config. tart's default
  // resolver reads DHCP leases by MAC, and a guest can send DHCP: an address is not an identity.
  for (const vm of ['aaa-foreign', 'vm-y']) {
    await tart.clone('gold', vm);
    await tart.run(vm, runOptsIn(w.dir, vm));
  }
  const ip = await tart.ip('vm-y', 30);
  await tart.ip('aaa-foreign', 30);
  const foreignState = join(w.home, 'vms', 'aaa-foreign', 'sim-run.json');
  writeFileSync(foreignState, JSON.stringify({ ...JSON.parse(readFileSync(foreignState, 'utf8')), ip }));
  expect(await tart.ip('aaa-foreign', 0)).toBe(ip);
  await guest().launchRunner({ vm: 'vm-y', ip, image: 'gold' }, JIT, Date.now() + 30_000, {});
  await waitFor(() => existsSync(join(w.home, 'vms', 'vm-y', '.sim-exec.log')) && readFileSync(join(w.home, 'vms', 'vm-y', '.sim-exec.log'), 'utf8').includes(RUNNER), 10_000);
  expect(existsSync(join(w.home, 'vms', 'aaa-foreign', '.sim-exec.log'))).toBe(false);
  for (const vm of ['aaa-foreign', 'vm-y']) {
    await tart.stop(vm, 2);
    await tart.delete(vm);
  }
});
