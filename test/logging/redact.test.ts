import { Writable } from 'node:stream';
import { Secrets, REDACTED } from '../../src/logging/redact.js';
import { createLogger } from '../../src/adapters/logger.js';

function collect(): { stream: Writable; lines: () => Array<Record<string, unknown>> } {
  const chunks: string[] = [];
  const stream = new Writable({ write(chunk, _enc, cb) { chunks.push(String(chunk)); cb(); } });
  return { stream, lines: () => chunks.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('redaction', () => {
  const pem = '-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA1234\n-----END RSA PRIVATE KEY-----';

  test('registered values, secret-named keys and secret shapes never reach a log line', () => {
    const secrets = new Secrets();
    secrets.add('eyJKSVQiOiJjb25maWcifQ==');
    secrets.add('hunter22');
    const out = collect();
    const log = createLogger({ level: 'debug', secrets, stream: out.stream }).child({ component: 'test' });
    log.info('started runner with eyJKSVQiOiJjb25maWcifQ== as stdin', { vm: 'tf-a-coder-1' });
    log.warn('auth', { password: 'anything-at-all', encoded_jit_config: 'xyz', nested: { token: 'abc', note: 'pw hunter22' } });
    log.error('github said', { error: new Error('Bad credentials for ghp_abcdefghijklmnopqrstuvwxyz0123456789') });
    log.debug('key', { text: pem, header: 'Bearer abcdefghijklmnopqrstuvwxyz' });
    const text = JSON.stringify(out.lines());
    for (const secret of ['eyJKSVQiOiJjb25maWcifQ==', 'hunter22', 'anything-at-all', 'xyz', 'abc', 'ghp_abcdefghijklmnopqrstuvwxyz0123456789', 'MIIEowIBAAKCAQEA1234', 'abcdefghijklmnopqrstuvwxyz']) {
      expect(text).not.toContain(secret);
    }
    expect(text).toContain(REDACTED);
  });

  test('a log line is one JSON object with time, level, msg and context', () => {
    const out = collect();
    createLogger({ level: 'info', secrets: new Secrets(), stream: out.stream }).child({ tick: 3 }).info('tick done', { vm: 'tf-a-coder-1' });
    const [line] = out.lines();
    expect(line).toMatchObject({ level: 'info', msg: 'tick done', tick: 3, vm: 'tf-a-coder-1' });
    expect(typeof line?.time).toBe('string');
  });

  test('levels below the configured one are dropped', () => {
    const out = collect();
    const log = createLogger({ level: 'warn', secrets: new Secrets(), stream: out.stream });
    log.info('quiet');
    log.warn('loud');
    expect(out.lines().map((l) => l.msg)).toEqual(['loud']);
  });

  test('short values are not registered (they would shred ordinary words)', () => {
    const s = new Secrets();
    s.add('ab');
    expect(s.redactText('about')).toBe('about');
  });
});
