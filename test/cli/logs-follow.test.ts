// `logs --follow`: what is added to a log is printed as it comes, redacted, whole lines only; a log
// that rotates (renamed, a new file begun) is followed into the new file; Ctrl-C and a closed pipe
// end it quietly with exit 0.
import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { jest } from '@jest/globals';
import { PACKAGE_ROOT } from '../../src/config/package.js';
import { logsCommand } from '../../src/cli/logs.js';
import { REDACTED } from '../../src/secrets/redact.js';
import { waitFor } from '../e2e/helpers.js';

jest.setTimeout(60_000);
const BIN = join(PACKAGE_ROOT, 'bin', 'tart-fleet.js');
const TOKEN = `ghp_${'f'.repeat(36)}`;
const dir = mkdtempSync(join(tmpdir(), 'tf-follow-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function sink() {
  let text = '';
  const stream = new Writable({
    write(chunk, _e, cb) {
      text += String(chunk);
      cb();
    },
  });
  return { stream, text: () => text };
}

test('prints the log, then each line added (redacted, whole lines only), across a rotation, until stopped', async () => {
  const file = join(dir, 'tart-fleet.log');
  writeFileSync(file, 'first line\n');
  const out = sink();
  const stop = new AbortController();
  const ctx = { env: { TART_FLEET_GITHUB_TOKEN: TOKEN }, cwd: dir, stdout: out.stream, stderr: new PassThrough(), hostname: 'h', totalMemBytes: 1 };
  const done = logsCommand(ctx, undefined, { follow: true, daemonLog: file, signal: stop.signal });
  await waitFor('the existing content', () => out.text() === 'first line\n', 10_000, 50);

  appendFileSync(file, `token ${TOKEN.slice(0, 20)}`);
  appendFileSync(file, `${TOKEN.slice(20)} in two writes\nhalf a li`);
  await waitFor('the completed line', () => out.text().includes('in two writes'), 10_000, 50);
  expect(out.text()).toBe(`first line\ntoken ${REDACTED} in two writes\n`);
  expect(out.text()).not.toContain(TOKEN.slice(0, 8));
  appendFileSync(file, 'ne, now whole\n');
  await waitFor('the partial line once whole', () => out.text().includes('half a line, now whole\n'), 10_000, 50);

  // Rotation as the daemon's logger does it: the file renamed, a new one begun under the old name.
  renameSync(file, join(dir, 'tart-fleet1.log'));
  writeFileSync(file, 'after rotation\n');
  await waitFor('the new file', () => out.text().endsWith('after rotation\n'), 10_000, 50);

  stop.abort();
  expect(await done).toBe(0);
  expect(out.text()).toBe(`first line\ntoken ${REDACTED} in two writes\nhalf a line, now whole\nafter rotation\n`);
});

test('--follow needs a VM or --daemon-log (usage error)', async () => {
  const ctx = { env: {}, cwd: dir, stdout: new PassThrough(), stderr: new PassThrough(), hostname: 'h', totalMemBytes: 1 };
  await expect(logsCommand(ctx, undefined, { follow: true })).rejects.toMatchObject({ code: 2, lines: [expect.stringMatching(/--follow: name a VM/)] });
});

describe('the real command ends quietly', () => {
  const follow = (file: string) => {
    const child = spawn(process.execPath, [BIN, 'logs', '--follow', '--daemon-log', file], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    return { child, exited, stdout: () => stdout, stderr: () => stderr };
  };

  test('on Ctrl-C (SIGINT): exit 0, nothing on stderr', async () => {
    const file = join(dir, 'sigint.log');
    writeFileSync(file, 'hello\n');
    const f = follow(file);
    await waitFor('the first line', () => f.stdout() === 'hello\n', 20_000, 50);
    f.child.kill('SIGINT');
    expect(await f.exited).toEqual({ code: 0, signal: null });
    expect(f.stderr()).toBe('');
  });

  test('when the reader goes away (EPIPE, as in `logs --follow | head -1`): exit 141 like every command whose reader left (main.ts), nothing on stderr', async () => {
    const file = join(dir, 'epipe.log');
    writeFileSync(file, 'hello\n');
    const f = follow(file);
    await waitFor('the first line', () => f.stdout() === 'hello\n', 20_000, 50);
    f.child.stdout.destroy();
    // Keep adding until a write finds the pipe closed.
    const feeder = setInterval(() => appendFileSync(file, 'more\n'), 100);
    try {
      expect(await f.exited).toEqual({ code: 141, signal: null });
    } finally {
      clearInterval(feeder);
    }
    expect(f.stderr()).toBe('');
  });
});
