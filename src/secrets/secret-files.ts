/**
 * The one place for secrets given to tart-fleet: which environment variables hold them, and the
 * file-path convention that lets a LaunchDaemon (whose plist is world-readable) name a secret
 * without containing it. Every command reads secret values through here (src/cli/wiring.ts
 * secretEnv); `launchd` uses the lists to keep values out of the plist; `validate` uses the tolerant
 * form so a bad secret file is one FAIL among the others.
 *
 * Convention: every secret `X` may instead be given as `X_FILE`, the absolute path of a file that
 * holds it (trailing newline ignored), readable only by the daemon's user. The GitHub App key is
 * already "PEM text or a path", so its path form needs no `_FILE` twin.
 *
 * ## Gotchas
 * - The commands that use secret values read them through `secretEnv` (src/cli/wiring.ts), which
 *   calls `expandSecretFiles`; `launchd` sees the raw environment, because it writes the paths.
 *   The config loader lists both `_FILE` names in `NON_CONFIG_ENV_VARS`.
 * - Never include a value in an error message: name the variable (and the file path) only.
 * - A secret file other users can read is refused, not warned about: the secret is already exposed
 *   on disk, and a daemon that starts anyway hides that. The fix (`chmod 600 <file>`) is in the error.
 * - So is a symlink (whoever can change the link chooses what the daemon reads, and the mode checked
 *   would be the target's) and a file another user owns (its owner can rewrite it, or loosen its
 *   mode, at any time). The file is opened with O_NOFOLLOW and judged by fstat of the open
 *   descriptor, so the checks and the read are of the same file (no check-then-swap race).
 * - Every reader goes through `readSecretFile`: the `_FILE` secrets and the GitHub App key path
 *   (github-auth.ts), at every start, not only at `launchd --install` (audit turn4-security N12).
 */
import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';

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

/** Every variable whose value is a secret, for the log redactor (the App key when it is PEM text). */
export const SECRET_VALUE_VARS = [...INLINE_SECRET_VARS, APP_KEY_VAR] as const;

/** The secrets that may be given as `X_FILE`. */
export const FILE_BACKED_SECRETS = ['TART_FLEET_GITHUB_TOKEN', 'TART_FLEET_SSH_PASSWORD'] as const;
export type FileBackedSecret = (typeof FILE_BACKED_SECRETS)[number];

/** Group- or other-accessible permission bits: a secret file must have none of them. */
export function isLooseMode(mode: number): boolean {
  return (mode & 0o077) !== 0;
}

/** The error for a secret file that other users can read, naming the file and the fix. */
export function looseModeMessage(variable: string, path: string, mode: number): string {
  return `${variable}: ${path} can be read by other users (mode ${(mode & 0o777).toString(8).padStart(4, '0')}); refusing to use it: chmod 600 ${path}`;
}

/** The `code`s of refusals whose message already names the file, the problem and the fix. */
export const REFUSAL_CODES: ReadonlySet<string> = new Set(['LOOSE_MODE', 'SYMLINK', 'WRONG_OWNER', 'NOT_A_FILE']);

/**
 * The one reader of secret files: refuses a symlink, a file another user owns and a loose mode (see
 * Gotchas), else returns its text. Errors carry the errno `code` (ENOENT, EACCES) or one of
 * REFUSAL_CODES with a message that names the variable, the file and the fix.
 */
export function readSecretFile(path: string, variable = 'secret file'): string {
  const refuse = (code: string, message: string) => Object.assign(new Error(message), { code });
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
  } catch (err) {
    // open(2) with O_NOFOLLOW: ELOOP when the last component is a symlink (Linux and macOS alike).
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') {
      throw refuse('SYMLINK', `${variable}: ${path} is a symbolic link; refusing to follow it (whoever can change the link chooses what is read): point ${variable} at the file itself`);
    }
    throw err;
  }
  try {
    const s = fstatSync(fd);
    if (!s.isFile()) throw refuse('NOT_A_FILE', `${variable}: ${path} is not a regular file; point ${variable} at the file holding the secret`);
    const me = process.getuid?.();
    if (me !== undefined && s.uid !== me) {
      throw refuse('WRONG_OWNER', `${variable}: ${path} is owned by uid ${s.uid}, not by the daemon's user (uid ${me}); refusing to use it: chown "$(id -un)" ${path} && chmod 600 ${path}`);
    }
    if (isLooseMode(s.mode)) throw refuse('LOOSE_MODE', looseModeMessage(variable, path, s.mode));
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

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
  name: FileBackedSecret,
  read?: (path: string) => string,
): string | undefined {
  const fileVar = `${name}_FILE`;
  const reader = read ?? ((p: string) => readSecretFile(p, fileVar));
  const inline = env[name];
  const file = env[fileVar];
  if (inline !== undefined && inline !== '' && file !== undefined && file !== '') {
    throw new Error(`${name} and ${fileVar} are both set; set only one`);
  }
  if (inline !== undefined && inline !== '') return inline;
  if (file === undefined || file === '') return undefined;
  let text: string;
  try {
    text = reader(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    if (REFUSAL_CODES.has(code)) throw new Error((err as Error).message, { cause: err });
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
export function expandSecretFiles(env: NodeJS.ProcessEnv, read?: (path: string) => string): NodeJS.ProcessEnv {
  const { env: out, problems } = expandSecretFilesTolerant(env, read);
  if (problems.length > 0) throw new Error(problems[0]!.message);
  return out;
}

export interface SecretProblem {
  /** The variable at fault (`TART_FLEET_SSH_PASSWORD_FILE`). */
  variable: string;
  /** What is wrong, naming the variable and the path, never the value. */
  message: string;
}

/**
 * Like expandSecretFiles, but a secret that cannot be read becomes a problem in the list (and is
 * left unset) instead of ending everything: `validate` reports each one beside its other checks.
 */
export function expandSecretFilesTolerant(
  env: NodeJS.ProcessEnv,
  read?: (path: string) => string,
): { env: NodeJS.ProcessEnv; problems: SecretProblem[] } {
  const out: NodeJS.ProcessEnv = { ...env };
  const problems: SecretProblem[] = [];
  for (const name of FILE_BACKED_SECRETS) {
    delete out[`${name}_FILE`];
    try {
      const value = readSecret(env, name, read);
      if (value !== undefined) out[name] = value;
    } catch (err) {
      const both = /both set/.test((err as Error).message);
      problems.push({ variable: both ? name : `${name}_FILE`, message: (err as Error).message });
      // Neither form reaches the adapters: they then say "no credentials", which is true.
      delete out[name];
    }
  }
  return { env: out, problems };
}
