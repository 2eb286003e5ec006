// `tart-fleet ls | head -1` as a shell runs it: the real bin in a child process whose stdout reader
// has already gone. Node ignores SIGPIPE, so each write fails with EPIPE; the command must end
// quietly with 141 (128 + SIGPIPE, what a shell reports for `yes | head -1`), never a stack trace.
import { spawn } from 'node:child_process';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { jest } from '@jest/globals';
import { PACKAGE_ROOT } from '../../src/config/package.js';
import { SimWorld } from '../../src/sim/world.js';

jest.setTimeout(90_000);
const BIN = join(PACKAGE_ROOT, 'bin', 'tart-fleet.js');
const execFileP = promisify(execFile);

let world: SimWorld;
beforeAll(async () => {
  world = await SimWorld.create();
  // One completed tick leaves the status snapshot that plain `ls` reads.
  await execFileP(process.execPath, [BIN, 'run', '--once', '--config', world.configPath], { env: world.daemonEnv(), cwd: world.dir });
});
afterAll(async () => {
  await world?.destroy();
});

/** Runs the command with its stdout's reading end closed before it writes a byte. */
function withReaderGone(args: string[]): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args, '--config', world.configPath], { env: world.daemonEnv(), cwd: world.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += String(d)));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stderr }));
  });
}

test.each([['ls'], ['ls', '--json'], ['validate'], ['disk'], ['logs']])('%s | head: exit 141, no stack trace', async (...args) => {
  const { code, signal, stderr } = await withReaderGone(args);
  // stderr may carry the command's own notes (a stale snapshot); never the EPIPE or its stack.
  expect({ code, signal, epipe: /EPIPE|^\s+at /m.test(stderr) }).toEqual({ code: 141, signal: null, epipe: false });
});
