// The daemon's log file (run --log-file): winston's File transport rotates it by size in-process,
// keeps a bounded number of files, and every line in it is redacted like stdout.
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/adapters/logger.js';
import { REDACTED, Secrets } from '../../src/secrets/redact.js';

function sink(): Writable {
  return new Writable({ write: (_chunk, _enc, done) => done() });
}

/** Polls `ok` until it holds (the File transport writes and rotates asynchronously). */
async function until(ok: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const read = (path: string) => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
};

describe('the log file', () => {
  test('rotates at its size, keeps maxFiles files (the newest in tart-fleet.log), JSON lines, secrets redacted', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tf-logfile-'));
    const path = join(dir, 'tart-fleet.log');
    const secrets = new Secrets();
    const token = 'ghs_abcdefghijklmnopqrstuvwxyz0123456789';
    secrets.add(token);
    const log = createLogger({ level: 'info', secrets, stream: sink(), format: 'text', file: { path, maxBytes: 2000, maxFiles: 3 } });
    // One event at a time, each on disk before the next: winston checks the size once a write has
    // gone through, so a burst written meanwhile would land in the file being rotated (a file may
    // pass maxsize by a burst under load; that is winston's, and harmless).
    const all = () => readdirSync(dir).map((f) => read(join(dir, f))).join('');
    for (let i = 0; i < 60; i++) {
      log.info(`event ${i}`, { tick: i, token, note: `the token is ${token}`, pad: 'x'.repeat(60) });
      await until(() => all().includes(`"msg":"event ${i}"`), `event ${i} on disk`);
    }
    await until(() => readdirSync(dir).length === 3, 'three files');
    // After a rotation the next event goes to tart-fleet.log again.
    log.info('event 60', { tick: 60 });
    await until(() => read(path).includes('"msg":"event 60"'), 'event 60 in tart-fleet.log');

    expect(readdirSync(dir).sort()).toEqual(['tart-fleet.log', 'tart-fleet1.log', 'tart-fleet2.log']);
    const events = (file: string) => read(join(dir, file)).split('\n').filter((l) => l !== '')
      .map((l) => JSON.parse(l) as { msg: string; tick: number; token?: string; note?: string });
    for (const file of readdirSync(dir)) {
      // Rotated once past maxsize: at most one line over it.
      expect(statSync(join(dir, file)).size).toBeLessThan(2000 + 400);
      const text = read(join(dir, file));
      expect(text).not.toContain(token);
      expect(text).not.toContain('ghs_');
      for (const e of events(file).filter((e) => e.tick < 60)) {
        expect(e.token).toBe(REDACTED);
        expect(e.note).toBe(`the token is ${REDACTED}`);
      }
    }
    // Tailable: tart-fleet.log has the newest events, each older file the ones before them; no
    // event is lost between the files kept, and the oldest ones went with the deleted file.
    const flat = ['tart-fleet2.log', 'tart-fleet1.log', 'tart-fleet.log'].flatMap((f) => events(f).map((e) => e.tick));
    const first = flat[0]!;
    expect(first).toBeGreaterThan(0);
    expect(flat).toEqual(Array.from({ length: 61 - first }, (_, i) => first + i));
  });
});

test('a log file that cannot be written fails at start, naming it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tf-logfile-'));
  const blocker = join(dir, 'not-a-dir');
  writeFileSync(blocker, 'a file where the log directory should be');
  const path = join(blocker, 'tart-fleet.log');
  expect(() => createLogger({ level: 'info', secrets: new Secrets(), stream: sink(), file: { path } }))
    .toThrow(new RegExp(`^log file ${path}: cannot write it \\((ENOTDIR|EEXIST)\\)$`));
});
