/**
 * The daemon's small persistent state (failure counts and give-ups, see host-memory.ts) as one JSON
 * file in `host.state_dir`, written atomically: a temp file in the same directory, fsync, rename.
 * A crash mid-write leaves the old file or the new one, never half of one.
 *
 * ## Gotchas
 * - The file holds job ids, repositories, profile names and counts: 0600 in a 0700 state dir, like
 *   the sweep state (private repositories' names are in it).
 * - A file that is missing is "nothing remembered"; one that does not parse or has another version
 *   throws, and HostMemory logs it and starts empty (the counts are a bound, not a record of value).
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { MemoryStore, PersistedMemory } from '../core/ports.js';
import { writeFileAtomic } from './atomic-write.js';

export class JsonStateFile implements MemoryStore {
  constructor(private readonly path: string) {}

  load(): PersistedMemory | undefined {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    const parsed = JSON.parse(text) as Partial<PersistedMemory>;
    if (parsed.version !== 1 || typeof parsed.failures !== 'object' || parsed.failures === null) {
      throw new Error(`${this.path}: not a tart-fleet state file of version 1`);
    }
    return parsed as PersistedMemory;
  }

  save(state: PersistedMemory): void {
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
    writeFileAtomic(this.path, `${JSON.stringify(state, null, 2)}\n`, 0o600);
  }
}
