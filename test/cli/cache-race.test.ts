// `cache prune` against a guest that races it: while the prune runs, a directory inside the cache
// is swapped, again and again, for a symlink to a directory outside the cache holding files of the
// same names. Not one file outside the cache may be removed.
import { execFile, spawn } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PACKAGE_ROOT } from '../../src/config/package.js';

const run = promisify(execFile);
const BIN = join(PACKAGE_ROOT, 'bin', 'tart-fleet.js');
const FILES = 300;

// The racer runs in its own process so it truly runs beside the prune.
// It leaves the real directory in place most of the time, so the prune gets work done between swaps.
const RACER = `
const fs = require('node:fs');
const [a, real, victim] = process.argv.slice(1);
const nap = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
for (;;) {
  try { fs.renameSync(a, real); fs.symlinkSync(victim, a); nap(1); fs.unlinkSync(a); fs.renameSync(real, a); } catch {}
  nap(2);
}`;

test.each([
  ['--older-than', ['--older-than', '1d']],
  ['--max-gb (least recently used first)', ['--max-gb', '0']],
])('a directory swapped for a symlink mid-prune (%s) never makes it remove a file outside the cache', async (_what, criterion) => {
  const dir = mkdtempSync(join(tmpdir(), 'tf-prune-race-'));
  const cache = join(dir, 'cache');
  const victim = join(dir, 'victim');
  const old = Date.now() / 1000 - 30 * 86_400;
  for (const d of [join(cache, 'a'), victim]) {
    mkdirSync(d, { recursive: true });
    for (let i = 0; i < FILES; i++) {
      writeFileSync(join(d, `f${i}`), 'x');
      utimesSync(join(d, `f${i}`), old, old);
    }
  }
  writeFileSync(join(dir, 'pipeline.yml'), 'github: { org: o, runner_name: m }\nhost: { cache_dir: ./cache }\nprofiles:\n  coder: { ram_mb: 2048, cpu: 2, timeout_minutes: 60 }\n');
  const racer = spawn(process.execPath, ['-e', RACER, join(cache, 'a'), join(cache, 'a.real'), victim], { stdio: 'ignore' });
  // Files left inside the cache. The racer keeps renaming while this looks, so a directory can vanish
  // between the look and the read: count real directories only, and one that just moved as empty.
  // A low count mid-race only ends the loop sooner; the final count is taken with the racer stopped.
  const filesIn = (d: string): string[] => {
    try { return lstatSync(d).isDirectory() ? readdirSync(d) : []; } catch { return []; }
  };
  const inside = () => ['a', 'a.real'].flatMap((d) => filesIn(join(cache, d)));
  try {
    // At least 8 rounds; more, up to 40, until one got work done between swaps (on a loaded machine
    // the racer can win every round of the first few).
    for (let round = 0; round < 40 && (round < 8 || inside().length >= FILES); round++) {
      await run(process.execPath, [BIN, 'cache', 'prune', ...criterion, '--config', join(dir, 'pipeline.yml')], {
        cwd: dir, env: { PATH: process.env.PATH, HOME: process.env.HOME, TART_FLEET_HOST_TOTAL_RAM_MB: '16384' },
      }).catch(() => undefined); // a prune that reports a swapped directory exits 1: that is fine here
    }
  } finally {
    racer.kill('SIGKILL');
    await new Promise((r) => racer.once('exit', r));
  }
  expect(readdirSync(victim).length).toBe(FILES);
  // The prune did work inside the cache meanwhile (the race did not simply stop it).
  expect(inside().length).toBeLessThan(FILES);
  rmSync(dir, { recursive: true, force: true });
}, 120_000);
