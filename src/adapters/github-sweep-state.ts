/**
 * Warm starts for the demand sweep: the ETag cache (URL, ETag, the small summary the sweep keeps — no
 * bodies) and the per-repo schedule, in one JSON file in `host.state_dir` (`github-sweep.json`),
 * written atomically. A restart then costs 304s instead of re-reading the whole org (issue #21: a cold
 * start of 1,000 repositories spent ~2,000 counted requests, 40 % of a token's hour).
 *
 * ## Gotchas
 * - It is a cache: a file that is missing, unreadable, of another version or for another org or API
 *   URL is logged and ignored (a cold start), never a reason not to start.
 * - ETags are only valid for the same credentials' view: the file records the API URL, the org and
 *   the repo source, and is ignored when any differs. They are even token-specific (otterdog#201): with
 *   App auth the restored ETags buy nothing (a new installation token), only the schedule does.
 * - Written after the first sweep, then at most once a minute: at 1,000 repositories it is ~270 KB of
 *   JSON, a few ms of CPU that every tick with a change would otherwise pay (issue #21's CPU goal).
 *   What a crash loses is under a minute of changes: those URLs cost a 200 instead of a 304 after the
 *   restart. Mode 0600: repository and job names of private repositories are in it.
 * - The remembered `lastSweptAt` times are real: a daemon that was down for an hour reports an hour of
 *   staleness until it has swept everything again.
 * - Never trusted: anyone who can write `state_dir` can plant this file. It is checked against a
 *   schema (ajv) and every URL in it (the cached pages' own and their `Link` headers, which the
 *   sweep follows on a 304) must be on `api_url`'s origin; otherwise the whole file is ignored with
 *   a warning (a cold start). A planted link would otherwise take the token to another host (audit
 *   turn4-security N3; github-origin.ts). The summaries' inner shape is per URL kind and only
 *   checked to be JSON objects, arrays or null: a bad one fails the sweep (fail closed), it sends nothing.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { Ajv } from 'ajv';
import type { Logger } from '../core/logger.js';
import { apiOrigin, linkOnOrigin } from './github-origin.js';
import { writeFileAtomic } from './atomic-write.js';
import type { CachedPage, EtagCache } from './github-etag-cache.js';
import type { DemandSweep, RepoState, TrackedRun } from './github-sweep.js';

const VERSION = 1;
const SAVE_EVERY_MS = 60_000;

interface PersistedRepo {
  name: string;
  /** GitHub's repository id (the event feed names repositories by it); absent in older files. */
  id?: number;
  pushed_at: number | null;
  swept_at: number | null;
  active_at: number | null;
  deep_at: number;
  older_runs: boolean;
  runs: TrackedRun[];
  /** Absent in files of older versions: unknown until the repository list is read again. */
  public?: boolean | null;
}

interface PersistedSweep {
  version: number;
  api_url: string;
  org: string;
  repo_source: string;
  saved_at: string;
  repo_list_at: number | null;
  pushed_watermark: number | null;
  repos: PersistedRepo[];
  etags: Array<[string, CachedPage]>;
}

export interface SweepStateIdentity {
  apiUrl: string;
  org: string;
  repoSource: string;
}

export class SweepStateFile {
  private savedAt = 0;

  constructor(
    private readonly path: string,
    private readonly identity: SweepStateIdentity,
    private readonly now: () => number,
    private readonly logger: Logger,
  ) {}

  /** Fills `sweep` and `cache` from the file when it fits; says what happened in the log. */
  restore(sweep: DemandSweep, cache: EtagCache): void {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.logger.warn('github sweep state not readable; starting cold', { file: this.path, error: (err as Error).message });
      return;
    }
    let state: PersistedSweep;
    try {
      state = JSON.parse(text) as PersistedSweep;
      if (!isObject(state) || state.version !== VERSION) throw new Error(`not a sweep state of version ${VERSION}`);
      if (!validState(state)) throw new Error(`not a sweep state: ${validState.errors?.map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`).slice(0, 3).join('; ')}`);
      const origin = apiOrigin(this.identity.apiUrl);
      const offOrigin = state.etags.find(([url, page]) => !linkOnOrigin(`<${url}>`, origin) || !linkOnOrigin(page.link, origin));
      if (offOrigin) throw new Error(`a cached URL or link points outside github.api_url's origin ${origin}; not followed`);
    } catch (err) {
      this.logger.warn('github sweep state ignored; starting cold', { file: this.path, error: (err as Error).message });
      return;
    }
    const { apiUrl, org, repoSource } = this.identity;
    if (state.api_url !== apiUrl || state.org !== org || state.repo_source !== repoSource) {
      this.logger.info('github sweep state is for another org or API; starting cold', { file: this.path });
      return;
    }
    cache.load(state.etags);
    sweep.importState({
      repoListAt: state.repo_list_at ?? undefined,
      pushedWatermark: state.pushed_watermark ?? undefined,
      repos: state.repos.map(
        (p): RepoState => ({
          fullName: p.name,
          ...(typeof p.id === 'number' ? { id: p.id } : {}),
          pushedAt: p.pushed_at ?? undefined,
          lastSweptAt: p.swept_at ?? undefined,
          lastActiveAt: p.active_at ?? undefined,
          lastDeepCheckAt: p.deep_at,
          hasOlderRuns: p.older_runs !== false,
          runs: new Map(p.runs.map((r) => [r.run.id, r])),
          ...(typeof p.public === 'boolean' ? { publicRepo: p.public } : {}),
        }),
      ),
    });
    this.savedAt = this.now();
    this.logger.info('github sweep state restored: a warm start', { repositories: state.repos.length, etags: state.etags.length, saved_at: state.saved_at });
  }

  /** Writes the state the first time, then when a minute has passed since the last write. */
  saveIfDue(sweep: DemandSweep, cache: EtagCache): void {
    const now = this.now();
    if (this.savedAt > 0 && now - this.savedAt < SAVE_EVERY_MS) return;
    const s = sweep.exportState();
    const state: PersistedSweep = {
      version: VERSION,
      api_url: this.identity.apiUrl,
      org: this.identity.org,
      repo_source: this.identity.repoSource,
      saved_at: new Date(now).toISOString(),
      repo_list_at: s.repoListAt ?? null,
      pushed_watermark: s.pushedWatermark ?? null,
      repos: s.repos.map((r) => ({
        name: r.fullName,
        ...(r.id !== undefined ? { id: r.id } : {}),
        pushed_at: r.pushedAt ?? null,
        swept_at: r.lastSweptAt ?? null,
        active_at: r.lastActiveAt ?? null,
        deep_at: r.lastDeepCheckAt,
        older_runs: r.hasOlderRuns,
        runs: [...r.runs.values()],
        public: r.publicRepo ?? null,
      })),
      etags: cache.entries(),
    };
    try {
      mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
      writeFileAtomic(this.path, JSON.stringify(state), 0o600);
      this.savedAt = now;
    } catch (err) {
      // A full disk must not stop the daemon: the next start is merely cold.
      this.logger.warn('github sweep state not saved', { file: this.path, error: (err as Error).message });
    }
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const nullableNumber = { type: ['number', 'null'] };
const JOB = {
  type: 'object',
  required: ['id', 'runId', 'repo', 'name', 'status', 'labels', 'createdAt', 'runnerName'],
  properties: {
    id: { type: 'integer' },
    runId: { type: 'integer' },
    repo: { type: 'string' },
    name: { type: 'string' },
    status: { type: 'string' },
    labels: { type: 'array', items: { type: 'string' } },
    createdAt: { type: 'number' },
    runnerName: { type: ['string', 'null'] },
  },
};
/** The file's shape (PersistedSweep); extra keys are tolerated, missing or mistyped ones are not. */
const validState = new Ajv({ allErrors: false, strict: false }).compile<PersistedSweep>({
  type: 'object',
  required: ['version', 'api_url', 'org', 'repo_source', 'repos', 'etags'],
  properties: {
    version: { const: VERSION },
    api_url: { type: 'string' },
    org: { type: 'string' },
    repo_source: { type: 'string' },
    saved_at: { type: 'string' },
    repo_list_at: nullableNumber,
    pushed_watermark: nullableNumber,
    repos: {
      type: 'array',
      items: {
        type: 'object',
        required: ['name', 'deep_at', 'runs'],
        properties: {
          name: { type: 'string', pattern: '^[^/\\s]+/[^/\\s]+$' },
          pushed_at: nullableNumber,
          swept_at: nullableNumber,
          active_at: nullableNumber,
          deep_at: { type: 'number' },
          older_runs: { type: 'boolean' },
          public: { type: ['boolean', 'null'] },
          runs: {
            type: 'array',
            items: {
              type: 'object',
              required: ['run', 'jobs', 'checkedAt'],
              properties: {
                run: { type: 'object', required: ['id', 'status', 'updatedAt'], properties: { id: { type: 'integer' }, status: { type: 'string' }, updatedAt: { type: 'string' } } },
                jobs: { type: 'array', items: JOB },
                checkedAt: { type: 'number' },
              },
            },
          },
        },
      },
    },
    etags: {
      type: 'array',
      items: {
        type: 'array',
        minItems: 2,
        maxItems: 2,
        items: [
          { type: 'string' },
          {
            type: 'object',
            required: ['etag', 'summary'],
            properties: { etag: { type: 'string' }, summary: { type: ['object', 'array', 'null'] }, link: { type: 'string' } },
          },
        ],
      },
    },
  },
});
