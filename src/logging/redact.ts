/**
 * Redaction: removes secrets from anything about to be logged or printed.
 *
 * Three nets, because one is never enough:
 * 1. values registered at run time (the token, the SSH password, each JIT config as it is created);
 * 2. keys that name a secret (`token`, `password`, `encoded_jit_config`, `authorization`, …);
 * 3. shapes of secrets (GitHub tokens `ghp_…`/`ghs_…`/`github_pat_…`, PEM private keys, `Bearer …`).
 *
 * ## Gotchas
 * - Registered values shorter than 3 characters are ignored: they would shred ordinary words.
 * - A registered password such as `admin` also hides the same word where it is a user name;
 *   that is the price of never printing it.
 */

export const REDACTED = '[REDACTED]';

const SECRET_KEY = /(token|password|passphrase|secret|private_?key|jit_?config|authorization|credentials)$/i;

const SECRET_SHAPES: RegExp[] = [
  /\b(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})/g,
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g,
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*/g, // a truncated key is still a key
  /\b(Bearer|token|RemoteAuth)\s+[A-Za-z0-9._\-+/=]{16,}/gi,
];

export class Secrets {
  private readonly values = new Set<string>();

  /** Remembers a secret so that it is removed from every later log line. */
  add(value: string | undefined | null): void {
    if (!value || value.length < 3) return;
    this.values.add(value);
    // A JIT config or key may also show up JSON-escaped or base64-decoded inside a message.
    const escaped = JSON.stringify(value).slice(1, -1);
    if (escaped !== value) this.values.add(escaped);
  }

  get size(): number {
    return this.values.size;
  }

  /** Redacts a string: registered values first (longest first), then known shapes. */
  redactText(text: string): string {
    let out = text;
    const byLength = [...this.values].sort((a, b) => b.length - a.length);
    for (const v of byLength) if (out.includes(v)) out = out.split(v).join(REDACTED);
    for (const shape of SECRET_SHAPES) out = out.replace(shape, REDACTED);
    return out;
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
      out[k] = SECRET_KEY.test(k) && v !== undefined && v !== null && v !== '' ? REDACTED : this.walk(v, seen);
    }
    return out;
  }
}
