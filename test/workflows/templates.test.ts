// workflows/: the templates users copy into .github/workflows. Each is parsed and every job checked
// against the repository's own pipeline.yml: it must land on a profile tart-fleet serves, stay within
// that profile's timeout, ask for least privilege, and name secrets instead of containing them.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config/load.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DIR = join(ROOT, 'workflows');
const { config } = loadConfig({ path: join(ROOT, 'pipeline.yml'), env: {}, cwd: ROOT, hostname: 'test', totalMemBytes: 16 * 1024 ** 3 });

type Job = { 'runs-on'?: unknown; 'timeout-minutes'?: unknown; permissions?: unknown; steps?: Array<Record<string, unknown>> };
type Workflow = { name?: string; on?: unknown; permissions?: unknown; jobs?: Record<string, Job> };

const files = readdirSync(DIR).filter((f) => f.endsWith('.yml') || f.endsWith('.yaml')).sort();
const templates = files.map((f) => {
  const text = readFileSync(join(DIR, f), 'utf8');
  return { file: f, text, doc: parse(text, { uniqueKeys: true }) as Workflow };
});

/** Every string anywhere under `node`, with the key it sits under (permission scopes left out: `id-token: write`). */
function strings(node: unknown, key = ''): Array<[string, string]> {
  if (typeof node === 'string') return [[key, node]];
  if (Array.isArray(node)) return node.flatMap((v) => strings(v, key));
  if (node && typeof node === 'object') return Object.entries(node).flatMap(([k, v]) => (k === 'permissions' ? [] : strings(v, k)));
  return [];
}

describe('workflow templates', () => {
  test('all six templates are there', () => {
    expect(files).toEqual(expect.arrayContaining(['developer.yml', 'coder.yml', 'marketer.yml', 'claude-agent.yml', 'codex-agent.yml', 'pipeline-selftest.yml']));
  });

  describe.each(templates.map((t) => [t.file, t] as const))('%s', (_file, t) => {
    const jobs = Object.entries(t.doc.jobs ?? {});

    test('is a workflow with a name, triggers and jobs', () => {
      expect(typeof t.doc.name).toBe('string');
      expect(t.doc.on).toBeDefined();
      expect(jobs.length).toBeGreaterThan(0);
    });

    test('every job runs on [self-hosted, <a profile of pipeline.yml>], with no coordinator job', () => {
      for (const [name, job] of jobs) {
        const runsOn = job['runs-on'];
        expect({ job: name, runsOn }).toEqual({ job: name, runsOn: ['self-hosted', expect.any(String)] });
        const profile = (runsOn as string[])[1]!;
        expect({ job: name, profile, known: profile in config.profiles }).toEqual({ job: name, profile, known: true });
      }
    });

    test("every job sets timeout-minutes, at most its profile's timeout_minutes", () => {
      for (const [name, job] of jobs) {
        const profile = config.profiles[(job['runs-on'] as string[])[1]!]!;
        const timeout = job['timeout-minutes'];
        expect({ job: name, type: typeof timeout }).toEqual({ job: name, type: 'number' });
        expect({ job: name, within: (timeout as number) <= profile.timeout_minutes }).toEqual({ job: name, within: true });
      }
    });

    test('least privilege: top-level permissions are set, read-only, and nothing is write-all', () => {
      const top = t.doc.permissions;
      expect(top).toBeDefined();
      expect(typeof top).toBe('object');
      for (const [scope, level] of Object.entries(top as Record<string, string>)) {
        expect({ scope, level }).toEqual({ scope, level: expect.stringMatching(/^(read|none)$/) });
      }
      for (const [, job] of jobs) {
        expect(job.permissions).not.toBe('write-all');
        expect(job.permissions).not.toBe('read-all');
      }
      expect(t.text).not.toMatch(/write-all/);
    });

    test('secrets are referenced by name, never written inline', () => {
      // Token shapes of GitHub, Anthropic, OpenAI and PEM keys.
      expect(t.text).not.toMatch(/gh[pousr]_[A-Za-z0-9]{20,}|github_pat_|sk-ant-|sk-[A-Za-z0-9]{20,}|-----BEGIN/);
      for (const [key, value] of strings(t.doc)) {
        if (/(api[-_]?key|token|password|secret)$/i.test(key)) {
          expect({ key, value }).toEqual({ key, value: expect.stringMatching(/^\$\{\{\s*(secrets\.[A-Z0-9_]+|github\.token)\s*\}\}$/) });
        }
      }
      for (const m of t.text.matchAll(/secrets\.([A-Za-z0-9_]+)/g)) expect(m[1]).toMatch(/^[A-Z0-9_]+$/);
    });
  });

  test('the self-test has one job per profile of pipeline.yml', () => {
    const selftest = templates.find((t) => t.file === 'pipeline-selftest.yml')!;
    const profiles = Object.values(selftest.doc.jobs ?? {}).map((j) => (j['runs-on'] as string[])[1]).sort();
    expect(profiles).toEqual(Object.keys(config.profiles).sort());
    expect(selftest.text).toMatch(/sw_vers/);
    expect(selftest.text).toMatch(/hw\.memsize/);
    expect(selftest.text).toContain('/Volumes/My Shared Files/cache');
  });

  test('the agents answer mentions with the official actions and their API keys from secrets', () => {
    const claude = templates.find((t) => t.file === 'claude-agent.yml')!.text;
    expect(claude).toContain('anthropics/claude-code-action@');
    expect(claude).toContain('@claude');
    expect(claude).toContain('${{ secrets.ANTHROPIC_API_KEY }}');
    const codex = templates.find((t) => t.file === 'codex-agent.yml')!.text;
    expect(codex).toContain('@codex');
    expect(codex).toContain('${{ secrets.OPENAI_API_KEY }}');
  });

  test('no template is triggered by pull_request_target (it runs a pull request with the base repository\'s secrets)', () => {
    for (const t of templates) {
      const on = t.doc.on;
      const events = typeof on === 'string' ? [on] : Array.isArray(on) ? on : Object.keys((on ?? {}) as object);
      expect({ file: t.file, events }).toEqual({ file: t.file, events: expect.not.arrayContaining(['pull_request_target']) });
      expect(t.text).not.toMatch(/^\s*pull_request_target\s*:/m);
    }
  });

  test('official actions are on their node24 majors (checkout and upload-artifact v5 or later)', () => {
    const uses = templates.flatMap((t) => strings(t.doc).filter(([k]) => k === 'uses').map(([, v]) => ({ file: t.file, v })));
    const official = uses.filter((u) => /^actions\/(checkout|upload-artifact|download-artifact|setup-node)@/.test(u.v));
    expect(official.length).toBeGreaterThan(0);
    for (const u of official) {
      const major = Number(/@v(\d+)$/.exec(u.v)?.[1] ?? NaN);
      expect({ ...u, major: major >= 5 }).toEqual({ ...u, major: true });
    }
  });

  test('a workflow with push and pull_request limits push to named branches, so a same-repository pull request runs once', () => {
    for (const t of templates) {
      const on = (t.doc.on ?? {}) as Record<string, unknown>;
      if (typeof on !== 'object' || !('push' in on) || !('pull_request' in on)) continue;
      const push = on.push as { branches?: string[] } | null;
      expect({ file: t.file, branches: push?.branches }).toEqual({ file: t.file, branches: expect.any(Array) });
      for (const b of push!.branches!) expect({ file: t.file, branch: b }).toEqual({ file: t.file, branch: expect.stringMatching(/^[^*]+$/) });
    }
    const coder = templates.find((t) => t.file === 'coder.yml')!.doc.on as Record<string, { branches?: string[] }>;
    expect(coder.push?.branches).toEqual(['main']);
  });

  test("codex runs with a safety strategy that works on the guest (drop-sudo hard-codes the user 'runner')", () => {
    const codex = templates.find((t) => t.file === 'codex-agent.yml')!;
    const step = Object.values(codex.doc.jobs!).flatMap((j) => j.steps ?? []).find((st) => String(st.uses).startsWith('openai/codex-action@'))!;
    const withs = (step.with ?? {}) as Record<string, string>;
    expect(withs['safety-strategy']).toMatch(/^(read-only|unprivileged-user)$/);
    if (withs['safety-strategy'] === 'unprivileged-user') expect(withs['codex-user']).toMatch(/^(?!runner$).+/);
    // The header says why, for the next person who wonders.
    expect(codex.text).toMatch(/^# .*drop-sudo/m);
  });

  test('the self-test checks that Homebrew tools are on PATH, each on its own, and the share against the tier', () => {
    const selftest = templates.find((t) => t.file === 'pipeline-selftest.yml')!;
    for (const job of Object.values(selftest.doc.jobs!)) {
      const script = (job.steps ?? []).map((st) => String(st.run ?? '')).join('\n');
      expect(script).toContain('command -v node brew');
      expect(script).toMatch(/for tool in node npm brew; do\s+command -v "\$tool"/);
      expect(script).toMatch(/case "\$\{TF_CACHE:-rw\}" in/);
    }
  });

  test('marketer runs the image\'s Playwright, not npx (npx reads npm\'s shared _npx cache)', () => {
    const marketer = templates.find((t) => t.file === 'marketer.yml')!.text;
    expect(marketer).not.toMatch(/^\s*npx /m);
    expect(marketer).toMatch(/^\s*playwright screenshot/m);
  });
});
