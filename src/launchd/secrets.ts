/**
 * Which environment variables hold secrets, and the file-path convention that lets a LaunchDaemon
 * (whose plist is world-readable) name a secret without containing it.
 *
 * Convention: every secret `X` may instead be given as `X_FILE`, the absolute path of a file that
 * holds it (trailing newline ignored), readable only by the daemon's user. The GitHub App key is
 * already "PEM text or a path", so its path form needs no `_FILE` twin.
 *
 * ## Gotchas
 * - The commands that use secret values read them through `secretEnv` (src/cli/wiring.ts), which
 *   calls `expandSecretFiles`; `launchd` sees the raw environment, because it writes the paths.
 *   The config loader lists both `_FILE` names in `SECRET_ENV_VARS`.
 * - Never include a value in an error message: name the variable (and the file path) only.
 */
import { readFileSync } from 'node:fs';

/** Secrets that may only travel inline in an interactive shell, never into a plist. */
export const INLINE_SECRET_VARS = ['TART_FLEET_GITHUB_TOKEN', 'GITHUB_TOKEN', 'TART_FLEET_SSH_PASSWORD'] as const;

/** Variables whose value is the path of a file holding a secret. */
export const SECRET_FILE_VARS = ['TART_FLEET_GITHUB_TOKEN_FILE', 'TART_FLEET_SSH_PASSWORD_FILE'] as const;

/** The GitHub App key: PEM text (a secret) or a path to a .pem file (fine to publish). */
export const APP_KEY_VAR = 'TART_FLEET_GITHUB_APP_PRIVATE_KEY';

/** For each inline secret, the variable that names its file instead. */
export const FILE_VAR_FOR: Readonly<Record<(typeof INLINE_SECRET_VARS)[number], string>> = {
  TART_FLEET_GITHUB_TOKEN: 'TART_FLEET_GITHUB_TOKEN_FILE',
  GITHUB_TOKEN: 'TART_FLEET_GITHUB_TOKEN_FILE',
  TART_FLEET_SSH_PASSWORD: 'TART_FLEET_SSH_PASSWORD_FILE',
};

/** PEM text rather than a path: a path never spans lines or carries a BEGIN marker. */
export function looksLikePem(value: string): boolean {
  return value.includes('-----BEGIN') || value.includes('\n');
}

/**
 * Reads secret `name` from the environment: inline `name`, else the file named by `name_FILE`.
 * Both set is an error (which one wins would be a guess). Returns undefined when neither is set.
 */
export function readSecret(
  env: NodeJS.ProcessEnv,
  name: 'TART_FLEET_GITHUB_TOKEN' | 'TART_FLEET_SSH_PASSWORD',
  read: (path: string) => string = (p) => readFileSync(p, 'utf8'),
): string | undefined {
  const fileVar = `${name}_FILE`;
  const inline = env[name];
  const file = env[fileVar];
  if (inline !== undefined && inline !== '' && file !== undefined && file !== '') {
    throw new Error(`${name} and ${fileVar} are both set; set only one`);
  }
  if (inline !== undefined && inline !== '') return inline;
  if (file === undefined || file === '') return undefined;
  let text: string;
  try {
    text = read(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new Error(`${fileVar}: cannot read ${file} (${code})`, { cause: err });
  }
  const value = text.replace(/\r?\n$/, '');
  if (value === '') throw new Error(`${fileVar}: ${file} is empty`);
  return value;
}

/**
 * The environment with every `X_FILE` replaced by `X` (the file's content), for the composition
 * root to call once at startup: the adapters, the redacting logger and the config loader then see
 * only the variables they already know. Throws (naming variables, never values) like readSecret.
 */
export function expandSecretFiles(
  env: NodeJS.ProcessEnv,
  read: (path: string) => string = (p) => readFileSync(p, 'utf8'),
): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...env };
  for (const name of ['TART_FLEET_GITHUB_TOKEN', 'TART_FLEET_SSH_PASSWORD'] as const) {
    const value = readSecret(env, name, read);
    delete out[`${name}_FILE`];
    if (value !== undefined) out[name] = value;
  }
  return out;
}
