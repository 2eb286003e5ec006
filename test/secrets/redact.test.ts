import { Writable } from 'node:stream';
import { Secrets, REDACTED } from '../../src/secrets/redact.js';
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

  describe('encoded forms, JWTs and secret-named keys (security audit #8)', () => {
    const PAT = 'ghp_' + 'Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8Qr9St0Uv1Wx2';
    // A JIT config is base64 of JSON: its decoded payload is a secret too.
    const JIT_JSON = JSON.stringify({ '.runner': 'tf-coder-4242', '.credentials': 'c2VjcmV0LWNyZWRlbnRpYWwtYmxvYg' });
    const JIT = Buffer.from(JIT_JSON).toString('base64');
    const PASSWORD = 'correct-horse-battery';
    const secrets = new Secrets();
    secrets.add(PAT);
    secrets.add(JIT);
    secrets.add(PASSWORD);

    test('a percent-encoded registered value is redacted, whichever characters were encoded', () => {
      const everyChar = [...PAT].map((c) => '%' + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')).join('');
      const underscore = PAT.replace('_', '%5f');
      const inUrl = `clone https://x-access-token:${encodeURIComponent(PASSWORD + '/')}@github.com/o/r.git failed`;
      for (const text of [`a ${everyChar} b`, `url=https://h/?t=${underscore}&x=1`, inUrl]) {
        const out = secrets.redactText(text);
        expect(out).toContain(REDACTED);
        expect(out).not.toMatch(/Ab1Cd2|%41%62%31|correct|horse/i);
      }
      // Percent-encoding that hides nothing is left alone.
      expect(secrets.redactText('GET /search?q=a%20b%2Fc ok')).toBe('GET /search?q=a%20b%2Fc ok');
    });

    test('base64 of a registered value, alone or inside a larger blob (Basic auth), is redacted', () => {
      const alone = Buffer.from(PAT).toString('base64');
      for (const prefix of ['x-access-token:', 'x:', 'ab:']) {
        // Three prefixes of different lengths: the value lands at every base64 alignment.
        const basic = Buffer.from(prefix + PAT).toString('base64');
        expect(secrets.redactText(`Authorization = Basic_${basic} end`)).not.toContain(basic.slice(8, 40));
      }
      const url = Buffer.from('u:' + PASSWORD).toString('base64url');
      expect(secrets.redactText(`t=${url}`)).not.toContain(url.slice(4, 20));
      expect(secrets.redactText(`blob ${alone} end`)).toBe(`blob ${REDACTED} end`);
    });

    test("a JIT config's decoded payload, and the config wrapped across lines, are redacted", () => {
      expect(secrets.redactText(`payload ${JIT_JSON}`)).not.toContain('c2VjcmV0LWNyZWRlbnRpYWwtYmxvYg');
      const wrapped = JIT.match(/.{1,20}/g)!.join('\n');
      const out = secrets.redactText(`config:\n${wrapped}\nend`);
      expect(out).not.toContain(JIT.slice(0, 20));
      expect(out).toContain('end');
    });

    test('a bare JWT (three base64url parts) is redacted; dotted words and versions are not', () => {
      const b64u = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
      const jwt = `${b64u({ alg: 'RS256', typ: 'JWT' })}.${b64u({ iat: 1, exp: 600, iss: '12345' })}.${'sig_-'.repeat(20)}`;
      const none = new Secrets();
      expect(none.redactText(`app jwt ${jwt} sent`)).toBe(`app jwt ${REDACTED} sent`);
      for (const fine of ['api.github.com', 'tart 2.32.1', 'node_modules.bin.cache', 'tf-mac-coder-500001.log.gz']) {
        expect(none.redactText(fine)).toBe(fine);
      }
    });

    test('secret-named keys are redacted case-insensitively, anywhere in the key name', () => {
      const none = new Secrets();
      const fields = {
        Authorization: 'Basic abc', PASSWD: 'p1', apiKey: 'k1', api_key: 'k2', secret_key: 'k3', client_secret: 'k4',
        Cookie: 'sid=1', 'set-cookie': 'sid=2', jwt: 'j1', appJwt: 'j2', refresh_token: 't1', tokenValue: 't2',
        private_key: 'pk', privateKey: 'pk2', jit_config: 'jc', encoded_jit_config: 'ejc', jitConfig: 'jc2',
        accessKey: 'ak', credential: 'cr',
        vm: 'tf-a-coder-1', reason: 'no-ip', count: 3,
      };
      const out = none.redact(fields) as Record<string, unknown>;
      for (const key of Object.keys(fields).slice(0, 19)) expect({ key, value: out[key] }).toEqual({ key, value: REDACTED });
      expect(out).toMatchObject({ vm: 'tf-a-coder-1', reason: 'no-ip', count: 3 });
    });
  });
});
