// Logs people can read: the logger's text and JSON formats (secrets redacted in both), the choice
// between them (text on a TTY, JSON otherwise, --log-format wins), and `tart-fleet logs [vm]` over
// the per-VM run logs a real `run --once` leaves in host.log_dir of the simulated world.
import { appendFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { jest } from '@jest/globals';
import { SimWorld } from '../../src/sim/world.js';
import { createLogger, textLine } from '../../src/adapters/logger.js';
import { buildLogger } from '../../src/cli/wiring.js';
import { Secrets, REDACTED } from '../../src/secrets/redact.js';
import type { CliContext } from '../../src/cli/context.js';
import { runBin, simWorldForAll, sink } from './cli-helpers.js';

jest.setTimeout(120_000);

describe('log formats', () => {
  const TOKEN = 'ghp_registered0123456789abcdefghijklmnopq';

  test('text: one readable line per event; JSON: one object per line; secrets redacted in both', async () => {
    for (const format of ['text', 'json'] as const) {
      const out = sink();
      const secrets = new Secrets();
      secrets.add(TOKEN);
      const log = createLogger({ level: 'info', secrets, stream: out.stream, format }).child({ component: 'github' });
      log.info('github request failed', { vm: 'tf-mini-coder-7', status: 502, note: `auth ${TOKEN}`, token: 'ghs_shapedlikeatoken0123456789abcdefghij' });
      log.debug('not shown');
      await new Promise((r) => setImmediate(r));
      const lines = out.text().trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(out.text()).not.toContain(TOKEN);
      expect(out.text()).not.toContain('ghs_shapedlikeatoken');
      if (format === 'json') {
        const line = JSON.parse(lines[0]!) as Record<string, unknown>;
        expect(line).toEqual(expect.objectContaining({ level: 'info', msg: 'github request failed', vm: 'tf-mini-coder-7', status: 502, component: 'github' }));
      } else {
        expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ info {2}github request failed {2}.*vm=tf-mini-coder-7 {2}status=502/);
        expect(lines[0]).toContain(REDACTED);
        expect(() => JSON.parse(lines[0]!) as unknown).toThrow();
      }
    }
  });

  test('textLine quotes values only when they need it', () => {
    expect(textLine({ time: '2026-11-30T05:00:00.123Z', level: 'warn', msg: 'm', a: 'x y', b: 1, c: { d: 2 }, e: undefined })).toBe('2026-11-30T05:00:00Z warn  m  a="x y"  b=1  c={"d":2}');
  });

  test('the composition root picks text on a TTY, JSON otherwise, and --log-format wins', async () => {
    const ctxWith = (tty: boolean, logFormat?: 'json' | 'text') => {
      const out = sink(tty);
      const ctx: CliContext = { env: {}, cwd: '/', stdout: out.stream, stderr: sink().stream, hostname: 'h', totalMemBytes: 1, ...(logFormat ? { logFormat } : {}) };
      buildLogger(ctx, new Secrets()).info('hello', { vm: 'v' });
      return out;
    };
    const cases = [ctxWith(true), ctxWith(false), ctxWith(true, 'json'), ctxWith(false, 'text')];
    await new Promise((r) => setImmediate(r));
    const isJson = (s: string) => s.trim().startsWith('{');
    expect(cases.map((c) => isJson(c.text()))).toEqual([false, true, true, false]);
  });
});

describe('against the simulated world', () => {
  let world: SimWorld;
  simWorldForAll({ speed: 40 }, (w) => (world = w));
  const cli = (args: string[], extra: Record<string, string> = {}) => runBin([...args, '--config', world.configPath], { env: world.daemonEnv(extra), cwd: world.dir });

  test('run --once logs JSON when piped and text with --log-format text; a bad format is a usage error', async () => {
    const json = await cli(['run', '--once']);
    expect(json.code).toBe(0);
    for (const line of json.stdout.trim().split('\n')) expect(() => JSON.parse(line) as unknown).not.toThrow();
    const text = await cli(['--log-format', 'text', 'run', '--once']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^\S+Z info {2}tart-fleet starting {2}org=sim-org/m);
    expect(text.stdout).not.toMatch(/^\{/m);
    expect(text.stdout + json.stdout).not.toContain(world.token);
    expect((await cli(['run', '--once', '--log-format', 'xml'])).code).toBe(2);
  });

  test('logs lists the per-VM logs run --once left, prints one by job id, redacts secrets, and names a missing one', async () => {
    expect((await cli(['logs'])).stdout).toMatch(/^no VM logs in .* yet$/m);
    const id = world.queue('coder', { durationS: 400 });
    expect((await cli(['run', '--once'])).code).toBe(0);
    const vm = `tf-sim-mac-coder-${id}`;
    const logDir = join(world.dir, 'vm-logs');
    expect(readdirSync(logDir)).toContain(`${vm}.log`);

    const list = await cli(['logs']);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(new RegExp(`^${vm} +\\d+(\\.\\d)? (B|KB) +\\d+s ago$`, 'm'));
    const listed = JSON.parse((await cli(['logs', '--json'])).stdout) as { logs: { vm: string; bytes: number }[] };
    expect(listed.logs.map((l) => l.vm)).toEqual([vm]);

    // What a guest might print: the token of this environment, and a token-shaped string.
    appendFileSync(join(logDir, `${vm}.log`), `guest says ${world.token} and ghp_leaked0123456789abcdefghijklmnopqrstu\n`);
    const one = await cli(['logs', String(id)]);
    expect(one.code).toBe(0);
    expect(one.stdout).toContain('guest says');
    expect(one.stdout).not.toContain(world.token);
    expect(one.stdout).not.toContain('ghp_leaked');
    expect(one.stdout).toContain(REDACTED);

    const missing = await cli(['logs', 'no-such-vm']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no log for "no-such-vm" in .*vm-logs; `tart-fleet logs` lists them/);
  });
});
