/**
 * GitHub credentials: a PAT, or a GitHub App (app id + installation id + private key) whose
 * installation tokens are fetched with `@octokit/auth-app` and refreshed before they expire.
 *
 * `githubAuthFromEnv(env)` builds the auth option from an environment object passed in (it never
 * reads process.env itself): `TART_FLEET_GITHUB_APP_ID` + `TART_FLEET_GITHUB_APP_INSTALLATION_ID` +
 * `TART_FLEET_GITHUB_APP_PRIVATE_KEY` (PEM text or a file path) win over `TART_FLEET_GITHUB_TOKEN`,
 * else `GITHUB_TOKEN`.
 *
 * ## Lifecycle
 * `TokenSource.token()` before every request: a PAT is returned as is; an installation token is
 * reused until `REFRESH_MARGIN_MS` before its `expires_at`, then replaced (one refresh in flight at a
 * time). `invalidate()` after a 401 forces the next call to fetch a new one. `grant()` tells what the
 * current installation token may do (its `permissions`, as the access_tokens response lists them),
 * for `validate`; nothing else depends on it.
 *
 * ## Gotchas
 * - auth-app caches installation tokens for 59 minutes regardless of `expires_at`; we always ask it
 *   with `refresh: true` and keep the expiry ourselves, measured on the injectable clock.
 * - Every token and the private key go into `Secrets` the moment we hold them, so no log line can
 *   carry them. Error messages name the variable, never its value.
 */
import { REFUSAL_CODES, readSecretFile } from '../secrets/secret-files.js';
import { createAppAuth } from '@octokit/auth-app';
import { Octokit } from '@octokit/rest';
import type { Secrets } from '../secrets/redact.js';
import { githubFetch } from './github-transport.js';

/** The token exchange's deadline when the caller gives no transport of its own. */
const TOKEN_EXCHANGE_TIMEOUT_MS = 30_000;

export type GitHubAuth =
  | { kind: 'token'; token: string }
  | { kind: 'app'; appId: number; installationId: number; privateKey: string };

export class GitHubAuthConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GitHubAuthConfigError';
  }
}

const APP_VARS = ['TART_FLEET_GITHUB_APP_ID', 'TART_FLEET_GITHUB_APP_INSTALLATION_ID', 'TART_FLEET_GITHUB_APP_PRIVATE_KEY'] as const;

function positiveInt(name: string, value: string): number {
  const n = Number(value.trim());
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n <= 0) {
    throw new GitHubAuthConfigError(`${name}: must be a positive integer`);
  }
  return n;
}

/**
 * The auth option from an environment object. `readFile` is for tests; it reads the private key
 * when `TART_FLEET_GITHUB_APP_PRIVATE_KEY` is a path rather than PEM text.
 */
export function githubAuthFromEnv(
  env: Record<string, string | undefined>,
  readFile: (path: string) => string = (p) => readSecretFile(p, 'TART_FLEET_GITHUB_APP_PRIVATE_KEY'),
): GitHubAuth {
  const present = APP_VARS.filter((v) => (env[v] ?? '').trim() !== '');
  if (present.length > 0) {
    const missing = APP_VARS.filter((v) => !present.includes(v));
    if (missing.length > 0) {
      throw new GitHubAuthConfigError(`GitHub App auth is incomplete: ${missing.map((v) => `${v} is not set`).join('; ')}`);
    }
    const appId = positiveInt('TART_FLEET_GITHUB_APP_ID', env.TART_FLEET_GITHUB_APP_ID!);
    const installationId = positiveInt('TART_FLEET_GITHUB_APP_INSTALLATION_ID', env.TART_FLEET_GITHUB_APP_INSTALLATION_ID!);
    const keyVar = env.TART_FLEET_GITHUB_APP_PRIVATE_KEY!;
    let privateKey: string;
    if (keyVar.includes('-----BEGIN')) {
      // PEM in an env var often arrives with literal "\n" escapes.
      privateKey = keyVar.includes('\\n') ? keyVar.replace(/\\n/g, '\n') : keyVar;
    } else {
      try {
        privateKey = readFile(keyVar.trim());
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
        // A symlink, a file another user owns or a loose mode: the message names the file and the fix.
        if (REFUSAL_CODES.has(code)) throw new GitHubAuthConfigError((err as Error).message);
        throw new GitHubAuthConfigError(`TART_FLEET_GITHUB_APP_PRIVATE_KEY: not PEM text and not a readable file (${code})`);
      }
      if (!privateKey.includes('-----BEGIN')) {
        throw new GitHubAuthConfigError('TART_FLEET_GITHUB_APP_PRIVATE_KEY: the file does not contain a PEM private key');
      }
    }
    return { kind: 'app', appId, installationId, privateKey };
  }
  const token = (env.TART_FLEET_GITHUB_TOKEN ?? '').trim() || (env.GITHUB_TOKEN ?? '').trim();
  if (token) return { kind: 'token', token };
  throw new GitHubAuthConfigError(
    'no GitHub credentials: set TART_FLEET_GITHUB_TOKEN_FILE=<path of a chmod 600 file> (or TART_FLEET_GITHUB_TOKEN, or GITHUB_TOKEN), or TART_FLEET_GITHUB_APP_ID, TART_FLEET_GITHUB_APP_INSTALLATION_ID and TART_FLEET_GITHUB_APP_PRIVATE_KEY',
  );
}

/** Refresh an installation token this long before it expires. */
export const REFRESH_MARGIN_MS = 5 * 60_000;

/** What an installation token may do, from the access_tokens response (never the token itself). */
export interface InstallationGrant {
  /** e.g. `{ organization_self_hosted_runners: 'write', actions: 'read', metadata: 'read' }`. */
  permissions: Readonly<Record<string, string>>;
  /** `all`, or `selected` when the App is installed on chosen repositories only. */
  repositorySelection: string;
}

export interface TokenSource {
  readonly kind: 'token' | 'app';
  token(): Promise<string>;
  /** Forget the current token (after a 401); the next `token()` fetches a new one. */
  invalidate(): void;
  /**
   * The grant of the most recent installation token (kept after `invalidate()`: permissions change
   * only when the org accepts new ones). Undefined for a PAT and before the first token.
   */
  grant(): InstallationGrant | undefined;
  /**
   * A fresh JWT of the App itself (for `/app/hook/…`, which installation tokens cannot read). Throws for
   * a PAT. GitHub: "JSON Web Token (JWT)" auth for App endpoints, at most 10 minutes valid.
   */
  appJwt(): Promise<string>;
}

export function createTokenSource(opts: {
  auth: GitHubAuth;
  apiUrl: string;
  secrets: Secrets;
  now: () => number;
  fetch?: typeof globalThis.fetch;
  /** Where the token exchange's own request log goes (its failures are thrown, and logged by the caller). */
  debug?: (msg: string) => void;
}): TokenSource {
  const { auth, secrets } = opts;
  if (auth.kind === 'token') {
    secrets.add(auth.token);
    const noJwt = () => Promise.reject(new Error('github.app_hook needs GitHub App auth (TART_FLEET_GITHUB_APP_ID, …): a token cannot read the App\'s webhook; use github.hook_id with an org webhook instead'));
    return { kind: 'token', token: async () => auth.token, invalidate: () => undefined, grant: () => undefined, appJwt: noJwt };
  }
  secrets.add(auth.privateKey);
  // A plain Octokit (no throttling/retry/our auth hook) only for the token exchange.
  const debug = opts.debug ?? (() => undefined);
  const plain = new Octokit({
    baseUrl: opts.apiUrl,
    userAgent: 'tart-fleet',
    // @octokit/rest logs every failed request to console.error by default; keep it in our logger.
    log: { debug, info: debug, warn: debug, error: debug },
    // Through our transport (proxy, private CA, deadline), never the global fetch (undici ignores
    // HTTPS_PROXY on the Node versions we run: github-transport.ts).
    request: { fetch: opts.fetch ?? githubFetch(TOKEN_EXCHANGE_TIMEOUT_MS) },
  });
  const appAuth = createAppAuth({
    appId: auth.appId,
    privateKey: auth.privateKey,
    installationId: auth.installationId,
    request: plain.request,
  });
  let current: { token: string; expiresAt: number } | undefined;
  let lastGrant: InstallationGrant | undefined;
  let inFlight: Promise<string> | undefined;
  const refresh = async (): Promise<string> => {
    const result = (await appAuth({ type: 'installation', refresh: true })) as {
      token: string;
      expiresAt?: string;
      permissions?: Record<string, string>;
      repositorySelection?: string;
    };
    secrets.add(result.token);
    const expiresAt = result.expiresAt ? Date.parse(result.expiresAt) : opts.now() + 3_600_000;
    current = { token: result.token, expiresAt };
    // auth-app turns a response without `permissions` into {}: read as "holds nothing", which is what
    // validate should then say rather than guess.
    lastGrant = { permissions: { ...(result.permissions ?? {}) }, repositorySelection: result.repositorySelection ?? 'all' };
    return result.token;
  };
  return {
    kind: 'app',
    token: () => {
      if (current && opts.now() < current.expiresAt - REFRESH_MARGIN_MS) return Promise.resolve(current.token);
      inFlight ??= refresh().finally(() => {
        inFlight = undefined;
      });
      return inFlight;
    },
    invalidate: () => {
      current = undefined;
    },
    grant: () => lastGrant,
    appJwt: async () => {
      const { token } = (await appAuth({ type: 'app' })) as { token: string };
      secrets.add(token);
      return token;
    },
  };
}
