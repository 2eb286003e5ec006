/**
 * `validate`'s view of the network path to GitHub, as the transport (adapters/github-transport.ts)
 * will take it: whether `github.api_url` goes through a proxy (HTTPS_PROXY / HTTP_PROXY / ALL_PROXY
 * and NO_PROXY, either case, by the same `proxy-from-env` rules the transport uses), and whether the
 * extra CA file Node is told about (NODE_EXTRA_CA_CERTS) can serve.
 *
 * ## Gotchas
 * - A proxy URL may carry credentials (`http://user:pass@proxy:3128`); they are never printed.
 * - Node reads NODE_EXTRA_CA_CERTS once, at process start, and only warns (then ignores it) when
 *   the file is missing or malformed (nodejs.org/api/cli.html); so an unreadable file is a FAIL
 *   here, before the daemon runs without it.
 * - The system trust store (the macOS keychain) is Node's `--use-system-ca`, from Node 22.15 and
 *   23.8; Node 20 has none, and says so here when a private CA seems to be in play.
 */
import { readFileSync } from 'node:fs';
import { getProxyForUrl } from 'proxy-from-env';
import type { CheckResult } from './checks.js';

/** A URL without its user name and password. */
export function withoutCredentials(url: string): string {
  try {
    const u = new URL(url);
    if (u.username === '' && u.password === '') return url;
    u.username = '';
    u.password = '';
    return `${u.href} (credentials not shown)`;
  } catch {
    return '(not a URL)';
  }
}

export function networkChecks(env: NodeJS.ProcessEnv, apiUrl: string): CheckResult[] {
  const results: CheckResult[] = [];
  const proxy = getProxyForUrl(apiUrl);
  const named = ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'ALL_PROXY', 'all_proxy', 'NO_PROXY', 'no_proxy'].filter((k) => (env[k] ?? '') !== '');
  if (proxy) {
    results.push({ status: 'ok', what: 'proxy', detail: `${apiUrl} is reached through ${withoutCredentials(proxy)} (from ${named.join(', ')})` });
  } else if (named.length > 0) {
    results.push({ status: 'ok', what: 'proxy', detail: `${apiUrl} is reached directly (${named.join(', ')} set, but none applies to it)` });
  }
  const caFile = env.NODE_EXTRA_CA_CERTS ?? '';
  if (caFile !== '') {
    let text: string;
    try {
      text = readFileSync(caFile, 'utf8');
    } catch (err) {
      results.push({ status: 'fail', what: 'extra CA', detail: `NODE_EXTRA_CA_CERTS=${caFile}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); Node ignores it and trusts only its own CAs`, fix: 'point NODE_EXTRA_CA_CERTS at a readable PEM file of the CA certificates, or unset it' });
      return results;
    }
    const count = (text.match(/-----BEGIN CERTIFICATE-----/g) ?? []).length;
    results.push(count > 0
      ? { status: 'ok', what: 'extra CA', detail: `NODE_EXTRA_CA_CERTS=${caFile}: ${count} certificate(s), trusted besides Node's own CAs` }
      : { status: 'fail', what: 'extra CA', detail: `NODE_EXTRA_CA_CERTS=${caFile} holds no PEM certificate; Node ignores it`, fix: 'export the CA certificate(s) as PEM (-----BEGIN CERTIFICATE-----) into that file' });
  }
  return results;
}
