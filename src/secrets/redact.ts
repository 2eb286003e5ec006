/**
 * Redaction: removes secrets from anything about to be logged or printed.
 *
 * Three nets, because one is never enough:
 * 1. values registered at run time (the token, the SSH password, each JIT config as it is created),
 *    together with the forms they take on the way: JSON-escaped, percent-encoded (a URL), base64 at
 *    any alignment (inside `Basic base64(user:token)`), wrapped across lines, and the decoded payload
 *    of a base64 value (a JIT config is base64 of JSON);
 * 2. keys that name a secret (`token`, `password`, `authorization`, `cookie`, `api_key`, …), matched
 *    case-insensitively anywhere in the key name (`refresh_token`, `appJwt`, `client_secret`);
 * 3. shapes of secrets (GitHub tokens `ghp_…`/`ghs_…`/`github_pat_…`, PEM private keys,
 *    `Bearer …`/`Basic …`, JWTs).
 *
 * ## Gotchas
 * - Registered values shorter than 3 characters are ignored: they would shred ordinary words.
 *   Base64 and wrapped variants are only derived from longer values (≥ 8 characters), for the same reason.
 * - A registered password such as `admin` also hides the same word where it is a user name;
 *   that is the price of never printing it.
 * - A percent-encoded secret is found by decoding each whitespace-free run that holds a `%XX`; the
 *   whole run is replaced (e.g. the whole URL), not only the secret inside it.
 * - The logger also scrubs the serialised JSON line, so runs stop at `"`, `,`, `{`, `}` and `\`:
 *   a match never swallows the JSON structure around it.
 */

export const REDACTED = '[REDACTED]';

/**
 * Key names that hold a secret, compared after lower-casing and dropping `_`/`-`, anywhere in the
 * name. `auth` alone is left out (author, oauth_app_id); `key` alone too (job keys, host keys).
 */
const SECRET_KEY_PARTS = [
  'token', 'password', 'passwd', 'passphrase', 'secret', 'privatekey', 'apikey', 'accesskey',
  'jitconfig', 'authorization', 'credential', 'cookie', 'jwt',
];

function isSecretKey(key: string): boolean {
  const k = key.toLowerCase().replace(/[-_]/g, '');
  return SECRET_KEY_PARTS.some((part) => k.includes(part));
}

const SECRET_SHAPES: RegExp[] = [
  /\b(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})/g,
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g,
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*/g, // a truncated key is still a key
  /\b(Bearer|Basic|token|RemoteAuth)\s+[A-Za-z0-9._\-+/=]{16,}/gi,
  // A JWT: base64url(JSON header, which starts `{"` → `eyJ`).base64url(payload).signature (may be empty).
  /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g,
];

/** A whitespace-free run holding at least one %XX; stops at JSON punctuation (see Gotchas). */
const PERCENT_RUN = /[^\s"'<>,{}\\]*%[0-9A-Fa-f]{2}[^\s"'<>,{}\\]*/g;

const MIN_DERIVED = 8;

/** The base64 texts of `value`: alone, and wherever it sits in a larger blob (one string per alignment). */
function base64Cores(value: string): string[] {
  const bytes = Buffer.from(value, 'utf8');
  // The value encoded on its own, padding and all, so nothing of it is left behind.
  const cores: string[] = [bytes.toString('base64'), bytes.toString('base64url')];
  for (let offset = 0; offset < 3; offset++) {
    const padded = Buffer.concat([Buffer.alloc(offset), bytes]);
    const encoded = padded.toString('base64');
    // Keep only characters that depend on the value's bytes alone: skip the group the padding
    // touches, stop before the last partial group (its characters depend on what follows).
    const start = offset === 0 ? 0 : 4;
    const end = Math.floor(padded.length / 3) * 4;
    const core = encoded.slice(start, end);
    if (core.length >= MIN_DERIVED) {
      cores.push(core);
      const url = core.replace(/\+/g, '-').replace(/\//g, '_');
      if (url !== core) cores.push(url);
    }
  }
  return cores;
}

/** The text a base64 value decodes to, when it is printable text (a JIT config's JSON); else undefined. */
function decodedPayload(value: string): string | undefined {
  if (value.length < 16 || !/^[A-Za-z0-9+/_-]+=*$/.test(value)) return undefined;
  const bytes = Buffer.from(value, value.includes('-') || value.includes('_') ? 'base64url' : 'base64');
  const text = bytes.toString('utf8');
  const binary = [...text].some((c) => {
    const code = c.charCodeAt(0);
    return c === '\uFFFD' || code === 0x7f || (code < 0x20 && c !== '\n' && c !== '\r' && c !== '\t');
  });
  if (text.length < MIN_DERIVED || binary) return undefined;
  return text;
}

function percentDecode(run: string): string {
  try {
    return decodeURIComponent(run);
  } catch {
    // Not valid UTF-8 once decoded: decode byte by byte instead.
    return run.replace(/%([0-9A-Fa-f]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export class Secrets {
  private readonly values = new Set<string>();
  /** Long values that may be wrapped across lines: first characters → a whitespace-tolerant pattern. */
  private readonly wrapped = new Map<string, RegExp>();
  /** `values`, longest first; rebuilt only after an add (redaction runs on every log line). */
  private byLength: string[] | undefined;

  /** Remembers a secret so that it is removed from every later log line. */
  add(value: string | undefined | null): void {
    this.addOne(value, true);
  }

  private addOne(value: string | undefined | null, derive: boolean): void {
    if (!value || value.length < 3) return;
    this.byLength = undefined;
    this.values.add(value);
    const escaped = JSON.stringify(value).slice(1, -1);
    if (escaped !== value) this.values.add(escaped);
    if (!derive || value.length < MIN_DERIVED) return;
    for (const core of base64Cores(value)) this.values.add(core);
    const payload = decodedPayload(value);
    if (payload !== undefined) this.addOne(payload, false);
    if (value.length >= 32 && !/\s/.test(value)) {
      const pattern = [...value].map(escapeRegExp).join('\\s*');
      this.wrapped.set(value.slice(0, 16), new RegExp(pattern, 'g'));
    }
  }

  get size(): number {
    return this.values.size;
  }

  /** Redacts a string: registered values first (longest first), their encoded forms, then known shapes. */
  redactText(text: string): string {
    let out = text;
    this.byLength ??= [...this.values].sort((a, b) => b.length - a.length);
    for (const v of this.byLength) if (out.includes(v)) out = out.split(v).join(REDACTED);
    // A wrapped value still has its first characters in one piece: only then try the slow pattern.
    for (const [head, pattern] of this.wrapped) if (out.includes(head)) out = out.replace(pattern, REDACTED);
    if (out.includes('%')) {
      out = out.replace(PERCENT_RUN, (run) => {
        const decoded = percentDecode(run);
        return this.holdsSecret(decoded) ? REDACTED : run;
      });
    }
    for (const shape of SECRET_SHAPES) out = out.replace(shape, REDACTED);
    return out;
  }

  private holdsSecret(text: string): boolean {
    for (const v of this.values) if (text.includes(v)) return true;
    return SECRET_SHAPES.some((shape) => {
      shape.lastIndex = 0;
      const hit = shape.test(text);
      shape.lastIndex = 0;
      return hit;
    });
  }

  /** Redacts a value deeply: secret-named keys lose their values, strings are scrubbed. */
  redact<T>(value: T): T {
    return this.walk(value, new WeakSet()) as T;
  }

  private walk(value: unknown, seen: WeakSet<object>): unknown {
    if (typeof value === 'string') return this.redactText(value);
    if (value === null || typeof value !== 'object') return value;
    if (seen.has(value)) return '[circular]';
    seen.add(value);
    if (value instanceof Error) {
      return { name: value.name, message: this.redactText(value.message) };
    }
    if (Array.isArray(value)) return value.map((v) => this.walk(v, seen));
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = isSecretKey(k) && v !== undefined && v !== null && v !== '' ? REDACTED : this.walk(v, seen);
    }
    return out;
  }
}
