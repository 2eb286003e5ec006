/**
 * The simulated OCI registry behind `tart clone <remote ref> <name>`: real tart pulls a source that
 * parses as an OCI reference (Clone.swift:51-55) into `cache/OCIs` first, which takes a while, and a
 * registry failure ends the clone with `Error: UnexpectedHTTPStatusCode(when: "pulling manifest", …)`,
 * exit 1 (Registry.swift; audit tart.md #22).
 *
 * What the registry holds is `$TART_HOME/.sim/registry.json` (see store.ts): a test or the simulated
 * world writes it. A ref that is not listed answers 404 MANIFEST_UNKNOWN.
 *
 * ## Gotchas
 * - A ref is remote when its first path segment is a host (has a `.` or a `:port`, or is
 *   `localhost`) and a `/` follows; local VM names never contain `/`.
 * - A pulled ref stays in the OCI cache: the next clone of it does not pull again.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createGoldenImage, type SimOs, type SimStore } from './store.js';

export interface RegistryEntry {
  os?: SimOs;
  cpu?: number;
  ramMb?: number;
  /** How long the pull takes (divided by TART_SIM_SPEED); default 2000. */
  pullMs?: number;
  /** An HTTP status instead of the image (401, 404, 500…). */
  status?: number;
  details?: string;
}

export function isRemoteRef(name: string): boolean {
  const slash = name.indexOf('/');
  if (slash <= 0) return false;
  const host = name.slice(0, slash);
  return host === 'localhost' || host.includes('.') || /:\d+$/.test(host);
}

function registry(store: SimStore): Record<string, RegistryEntry> {
  const file = join(store.simDir, 'registry.json');
  if (!existsSync(file)) return {};
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Record<string, RegistryEntry>;
  } catch {
    return {};
  }
}

/** The OCI cache entry's directory name under `cache/OCIs` (one per ref). */
export function ociCacheName(ref: string): string {
  return ref.replace(/[/:@]/g, '_');
}

/**
 * Pulls `ref` into the OCI cache unless it is there; returns the cached VM's directory name under
 * `cache/OCIs`, or the error text and exit code tart would give.
 */
export async function pull(store: SimStore, ref: string, speed: number): Promise<{ dir: string } | { text: string; code: number }> {
  const cacheRoot = join(store.home, 'cache', 'OCIs');
  const dir = join(cacheRoot, ociCacheName(ref));
  if (existsSync(join(dir, 'config.json'))) return { dir };
  const entry = registry(store)[ref];
  const wait = ((entry?.pullMs ?? 2000) / speed) | 0;
  await new Promise((r) => setTimeout(r, entry?.status !== undefined || !entry ? Math.min(wait, 200) : wait));
  if (!entry || entry.status !== undefined) {
    const code = entry?.status ?? 404;
    const details = entry?.details ?? (code === 404 ? '{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}' : '');
    return { text: `Error: UnexpectedHTTPStatusCode(when: "pulling manifest", code: ${code}, details: ${JSON.stringify(details)})`, code: 1 };
  }
  mkdirSync(cacheRoot, { recursive: true });
  const os = entry.os ?? 'darwin';
  // The cache holds the image in tart's VM layout, so clone can copy it like a local VM.
  const made = createGoldenImage(join(store.home, '.sim', 'oci-staging'), ociCacheName(ref), {
    os,
    cpu: entry.cpu ?? 4,
    ramMb: entry.ramMb ?? (os === 'darwin' ? 8192 : 4096),
  });
  rmSync(dir, { recursive: true, force: true });
  renameSync(made, dir);
  return { dir };
}
