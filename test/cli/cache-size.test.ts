// `cache prune --max-gb` as the daemon runs it (the real bin, `--dir`, `--json`) against a real
// temporary directory: least recently used first (the later of mtime and atime), down to the cap
// and no further, emptied directories removed, links never followed, dry runs remove nothing.
import { execFile } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { PACKAGE_ROOT } from '../../src/config/package.js';
import type { CachePruneReport } from '../../src/core/ports.js';

const BIN = join(PACKAGE_ROOT, 'bin', 'tart-fleet.js');
const DAY = 86_400;

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH, HOME: process.env.HOME } }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

function files(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (lstatSync(p).isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

let root: string;
let cache: string;
let outside: string;
/** Cache files from least to most recently used. */
const byAge = ['old/a.bin', 'old/b.bin', 'c.bin', 'mixed/d.bin', 'e.bin', 'read-lately.bin', 'mixed/f.bin', 'g.bin'];

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'tf-cache-size-'));
  cache = join(root, 'cache');
  outside = join(root, 'outside');
  mkdirSync(join(cache, 'old'), { recursive: true });
  mkdirSync(join(cache, 'mixed'), { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(outside, 'precious.bin'), Buffer.alloc(400_000, 1));
  const now = Date.now() / 1000;
  byAge.forEach((name, i) => {
    writeFileSync(join(cache, name), Buffer.alloc(100_000, 1));
    const used = now - (byAge.length - i) * DAY;
    // read-lately.bin was written 30 days ago but read recently: its atime keeps it.
    if (name === 'read-lately.bin') utimesSync(join(cache, name), used, now - 30 * DAY);
    else utimesSync(join(cache, name), used, used);
  });
  symlinkSync(outside, join(cache, 'link-out')); // young: a link made now
  utimesSync(join(outside, 'precious.bin'), now - 60 * DAY, now - 60 * DAY);
});

afterEach(() => rmSync(root, { recursive: true, force: true }));

test('--max-gb removes the least recently used files until the cache fits, then directories it emptied', async () => {
  const cap = 0.0005; // 500 kB
  const dry = await cli(['cache', 'prune', '--dir', cache, '--max-gb', String(cap), '--dry-run', '--json']);
  expect(dry.code).toBe(0);
  const planned = JSON.parse(dry.stdout) as CachePruneReport;
  expect(files(cache)).toEqual([...byAge, 'link-out'].sort()); // a dry run removes nothing
  expect(planned.bytes_before).toBeGreaterThanOrEqual(800_000);

  const { code, stdout } = await cli(['cache', 'prune', '--dir', cache, '--max-gb', String(cap), '--json']);
  expect(code).toBe(0);
  const report = JSON.parse(stdout) as CachePruneReport;
  expect(report).toMatchObject({ dir: cache, dry_run: false, bytes_before: planned.bytes_before, failed: 0 });
  const kept = files(cache);
  const removed = byAge.filter((f) => !kept.includes(f));
  // Exactly the least recently used ones went, and no more than needed to fit.
  expect(removed).toEqual(byAge.slice(0, removed.length));
  expect(removed.length).toBe(report.files_removed);
  expect(report.bytes_after).toBeLessThanOrEqual(cap * 1e9);
  expect(report.bytes_after! + lstatSync(join(cache, 'g.bin')).blocks * 512).toBeGreaterThan(cap * 1e9);
  expect(report.freed_bytes).toBe(report.bytes_before! - report.bytes_after!);
  // The dry run planned the same files (it cannot count the directories they would empty).
  expect(planned.files_removed).toBe(report.files_removed);
  expect(kept).toContain('read-lately.bin');
  expect(existsSync(join(cache, 'old'))).toBe(false); // emptied by the prune
  expect(existsSync(join(cache, 'mixed'))).toBe(true);
  // The link is an entry of its own; what it points at was never counted or touched.
  expect(kept).toContain('link-out');
  expect(existsSync(join(outside, 'precious.bin'))).toBe(true);
});

test('under the cap nothing is removed; the text report gives the size', async () => {
  const { code, stdout } = await cli(['cache', 'prune', '--dir', cache, '--max-gb', '1']);
  expect(code).toBe(0);
  expect(stdout).toMatch(/^nothing least recently used beyond 1 GB in /m);
  expect(stdout).toMatch(/^size: .* before, .* after \(at most 1 GB\)$/m);
  expect(files(cache)).toHaveLength(byAge.length + 1);
});

test('bad input exits 2 naming the option', async () => {
  for (const bad of ['-1', 'ten', '']) {
    const { code, stderr } = await cli(['cache', 'prune', '--dir', cache, '--max-gb', bad]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/^--max-gb: must be a number of GB/m);
  }
  const none = await cli(['cache', 'prune', '--dir', cache]);
  expect(none.code).toBe(2);
  expect(none.stderr).toMatch(/give --older-than AGE, --max-gb N, or both/);
  const home = await cli(['cache', 'prune', '--dir', process.env.HOME ?? '/', '--max-gb', '1', '--dry-run']);
  expect(home.code).toBe(2);
  expect(home.stderr).toMatch(/^--dir: refusing to prune/m);
});
