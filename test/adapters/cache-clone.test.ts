// Host-side cache clones (cache: clone): the real cp on this machine (GNU: cp -a --reflink=auto)
// copies a cache tree with files, directories and symlinks that point outside it.
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CacheCloneDir, cpCommand, removeCacheClone } from '../../src/adapters/cache-clone.js';

let base: string;
let source: string;
let outside: string;
let root: string;

beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'tf-clone-'));
  source = join(base, 'cache');
  outside = join(base, 'outside');
  root = join(base, 'state', 'cache-clones');
  mkdirSync(join(source, 'npm', '_npx', 'abc'), { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(source, 'npm', '_npx', 'abc', 'cli.js'), 'trusted\n');
  writeFileSync(join(source, 'top.txt'), 'top\n');
  writeFileSync(join(outside, 'secret.txt'), 'host secret\n');
  symlinkSync(join(outside, 'secret.txt'), join(source, 'link-to-file'));
  symlinkSync(outside, join(source, 'link-to-dir'));
});

afterEach(() => rmSync(base, { recursive: true, force: true }));

describe('CacheCloneDir', () => {
  test('make copies the tree into <root>/<jobKey>, 0700; symlinks stay links and are not followed', async () => {
    const clones = new CacheCloneDir(root);
    const dest = await clones.make(source, 'tf-mac-pr-500001');
    expect(dest).toBe(join(root, 'tf-mac-pr-500001'));
    expect(statSync(dest).mode & 0o777).toBe(0o700);
    expect(statSync(root).mode & 0o777).toBe(0o700);
    expect(readFileSync(join(dest, 'npm', '_npx', 'abc', 'cli.js'), 'utf8')).toBe('trusted\n');
    expect(readFileSync(join(dest, 'top.txt'), 'utf8')).toBe('top\n');
    for (const link of ['link-to-file', 'link-to-dir']) {
      expect(lstatSync(join(dest, link)).isSymbolicLink()).toBe(true);
      expect(readlinkSync(join(dest, link))).toBe(readlinkSync(join(source, link)));
    }
    // The outside directory was not copied in as real files.
    expect(existsSync(join(dest, 'secret.txt'))).toBe(false);
  });

  test('a job writing into its clone changes neither the source nor a later clone', async () => {
    const clones = new CacheCloneDir(root);
    const a = await clones.make(source, 'job-a');
    writeFileSync(join(a, 'npm', '_npx', 'abc', 'cli.js'), 'planted by job a\n');
    writeFileSync(join(a, 'planted.txt'), 'x');
    const b = await clones.make(source, 'job-b');
    expect(readFileSync(join(source, 'npm', '_npx', 'abc', 'cli.js'), 'utf8')).toBe('trusted\n');
    expect(readFileSync(join(b, 'npm', '_npx', 'abc', 'cli.js'), 'utf8')).toBe('trusted\n');
    expect(existsSync(join(b, 'planted.txt'))).toBe(false);
    expect(existsSync(join(source, 'planted.txt'))).toBe(false);
    expect(await clones.list()).toEqual([a, b]);
  });

  test('remove deletes the clone and nothing its symlinks point at', async () => {
    const clones = new CacheCloneDir(root);
    const dest = await clones.make(source, 'job-a');
    // The guest may add links of its own to the clone.
    symlinkSync(join(outside), join(dest, 'guest-link'));
    await clones.remove(dest);
    expect(existsSync(dest)).toBe(false);
    expect(readFileSync(join(outside, 'secret.txt'), 'utf8')).toBe('host secret\n');
    expect(existsSync(join(source, 'top.txt'))).toBe(true);
    expect(await clones.list()).toEqual([]);
  });

  test('remove refuses anything that is not a clone directly under the root', async () => {
    const clones = new CacheCloneDir(root);
    const dest = await clones.make(source, 'job-a');
    for (const path of [source, outside, root, join(root, '..'), join(root, '..', 'x'), join(dest, 'npm'), '/']) {
      await expect(clones.remove(path)).rejects.toThrow(/refusing to remove/);
    }
    await expect(removeCacheClone(root, join(root, 'job-a', '..', '..', 'cache'))).rejects.toThrow(/refusing/);
    expect(existsSync(join(source, 'top.txt'))).toBe(true);
    expect(existsSync(dest)).toBe(true);
  });

  test('a missing source gives an empty clone; a leftover clone of the same key is replaced', async () => {
    const clones = new CacheCloneDir(root);
    const empty = await clones.make(join(base, 'never-written'), 'job-a');
    expect(statSync(empty).isDirectory()).toBe(true);
    writeFileSync(join(empty, 'stale'), 'x');
    const again = await clones.make(source, 'job-a');
    expect(again).toBe(empty);
    expect(existsSync(join(again, 'stale'))).toBe(false);
    expect(existsSync(join(again, 'top.txt'))).toBe(true);
  });

  test('a VM name that is not a plain name is refused before anything is written', async () => {
    const clones = new CacheCloneDir(root);
    for (const key of ['', '..', '../x', 'a/b', '.hidden', 'x'.repeat(200)]) {
      await expect(clones.make(source, key)).rejects.toThrow(/VM name/);
    }
    expect(existsSync(root)).toBe(false);
  });

  test('a cp that fails leaves no partial clone and names the failure', async () => {
    // Each platform's argv is invalid for the other's cp (GNU has no -c, BSD no --reflink): a real failure of the real cp.
    const clones = new CacheCloneDir(root, { platform: process.platform === 'darwin' ? 'linux' : 'darwin' });
    await expect(clones.make(source, 'job-a')).rejects.toThrow(/cache clone: .*cp failed/);
    expect(existsSync(join(root, 'job-a'))).toBe(false);
  });

  test('a source that is a file is refused', async () => {
    const clones = new CacheCloneDir(root);
    await expect(clones.make(join(source, 'top.txt'), 'job-a')).rejects.toThrow(/not a directory/);
    expect(existsSync(join(root, 'job-a'))).toBe(false);
  });
});

describe('cpCommand', () => {
  test('macOS clones with clonefile and never follows links; elsewhere a reflink-or-copy archive', () => {
    expect(cpCommand('darwin', '/c', '/d')).toEqual({ file: '/bin/cp', args: ['-c', '-R', '-P', '/c/.', '/d'] });
    expect(cpCommand('linux', '/c', '/d')).toEqual({ file: 'cp', args: ['-a', '--reflink=auto', '/c/.', '/d'] });
  });
});
