// The version comes from package.json in one place, and every surface shows that one.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { PACKAGE_ROOT, packageVersion } from '../../src/config/package.js';
import { main } from '../../src/main.js';

const fromFile = (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

test("packageVersion() is package.json's version", () => {
  expect(fromFile).toMatch(/^\d+\.\d+\.\d+/);
  expect(packageVersion()).toBe(fromFile);
});

test('--version prints it', async () => {
  const stdout = new PassThrough();
  let out = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  const code = await main(['--version'], { env: {}, cwd: PACKAGE_ROOT, stdout, stderr: new PassThrough(), hostname: 'h', totalMemBytes: 1 });
  expect(code).toBe(0);
  expect(out.trim()).toBe(fromFile);
});
