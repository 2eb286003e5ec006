/**
 * validate's tart-side prerequisites: the tart version floors for the flags the adapter passes, and
 * Softnet set up for a daemon (on PATH, setuid root or passwordless sudo) with the exact fix.
 */
import { chmodSync, chownSync, mkdirSync, mkdtempSync, realpathSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateConfig } from '../../src/config/load.js';
import { parseTartVersion, rootDiskOptsCheck, softnetCheck, tartVersionCheck, usesSoftnet } from '../../src/cli/prerequisites.js';

function config(vm: Record<string, unknown> = {}) {
  return validateConfig(
    { github: { org: 'acme', runner_name: 'mac-a' }, host: { total_ram_mb: 65536, reserved_ram_gb: 4 }, vm, profiles: { coder: { ram_mb: 4096, cpu: 2, timeout_minutes: 10 } } },
    'test',
    { env: {}, hostname: 'test', totalMemBytes: 0 },
  ).config;
}

test('tart version floors: 2.10.0 always, 2.16.0 with root_disk_opts, 2.30.0 with a Softnet block list; SNAPSHOT is unknown', () => {
  expect(parseTartVersion('2.32.1')).toEqual([2, 32, 1]);
  expect(parseTartVersion('SNAPSHOT')).toBeUndefined();
  expect(tartVersionCheck('2.32.1', config(), 'tart on PATH')).toMatchObject({ status: 'ok', detail: 'version 2.32.1 (tart on PATH)' });
  expect(tartVersionCheck('2.9.0', config(), 'x')).toMatchObject({ status: 'fail', detail: expect.stringMatching(/2\.10\.0 for --no-clipboard and --random-mac/) });
  expect(tartVersionCheck('2.10.0', config(), 'x').status).toBe('ok');
  expect(tartVersionCheck('2.15.9', config({ root_disk_opts: 'sync=none' }), 'x')).toMatchObject({ status: 'fail', detail: expect.stringMatching(/2\.16\.0 for --root-disk-opts/) });
  expect(tartVersionCheck('2.16.0', config({ root_disk_opts: 'sync=none' }), 'x').status).toBe('ok');
  expect(tartVersionCheck('2.29.5', config({ net_softnet_block: ['10.0.0.0/8'] }), 'x')).toMatchObject({ status: 'fail', detail: expect.stringMatching(/2\.30\.0 for --net-softnet-block/) });
  expect(tartVersionCheck('2.29.5', config({ net_softnet_allow: ['10.0.0.0/8'] }), 'x').status).toBe('ok');
  expect(tartVersionCheck('SNAPSHOT', config(), 'x')).toMatchObject({ status: 'warn', detail: expect.stringMatching(/unknown/) });
  // JIT delivery over tart exec needs the exec subcommand.
  expect(tartVersionCheck('2.26.0', config({ runner_delivery: 'exec' }), 'x')).toMatchObject({ status: 'fail', detail: expect.stringMatching(/2\.27\.0 for tart exec/) });
  expect(tartVersionCheck('2.26.0', config(), 'x').status).toBe('ok');
});

test('root_disk_opts: sync= and caching= values tart accepts pass, others fail naming the field', () => {
  expect(rootDiskOptsCheck('sync=none').status).toBe('ok');
  expect(rootDiskOptsCheck('sync=fsync,caching=uncached').status).toBe('ok');
  expect(rootDiskOptsCheck('sync=fast')).toMatchObject({ status: 'fail', detail: expect.stringMatching(/^vm\.root_disk_opts: sync=fast .*unsupported disk image synchronization mode/) });
  expect(rootDiskOptsCheck('caching=always').status).toBe('fail');
});

test('Softnet is in use when enabled or when an allow/block list implies it', () => {
  expect(usesSoftnet(config())).toBe(false);
  expect(usesSoftnet(config({ net_softnet: true }))).toBe(true);
  expect(usesSoftnet(config({ net_softnet_allow: ['10.0.0.0/8'] }))).toBe(true);
  expect(usesSoftnet(config({ net_softnet_block: ['10.0.0.0/8'] }))).toBe(true);
});

describe('softnet for a daemon', () => {
  const root = mkdtempSync(join(tmpdir(), 'tf-softnet-'));
  // The real stat and realpath; only sudo is stubbed (there is none here, and never a password prompt).
  const probes = (over: object = {}) => ({ stat: statSync, realpath: realpathSync, sudoOk: () => Promise.resolve(false), ...over });

  test('not on PATH: fail with the install and setuid commands', async () => {
    const r = await softnetCheck(join(root, 'empty'), probes());
    expect(r.status).toBe('fail');
    expect(r.detail).toContain('brew install cirruslabs/cli/softnet');
    expect(r.detail).toMatch(/sudo chown root .* && sudo chmod u\+s /);
  });

  test('brew-style symlink to a file that is not setuid root: fail naming the resolved Cellar path', async () => {
    const cellar = join(root, 'Cellar', 'softnet', '0.19.0', 'bin');
    const bin = join(root, 'bin');
    mkdirSync(cellar, { recursive: true });
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(cellar, 'softnet'), '#!/bin/sh\n');
    chmodSync(join(cellar, 'softnet'), 0o755);
    symlinkSync(join(cellar, 'softnet'), join(bin, 'softnet'));
    const r = await softnetCheck(`/nonexistent:${bin}`, probes());
    expect(r.status).toBe('fail');
    expect(r.detail).toContain(`sudo chown root ${join(cellar, 'softnet')} && sudo chmod u+s ${join(cellar, 'softnet')}`);
    expect(r.detail).toMatch(/redo after every brew upgrade/);
    // Passwordless sudo is the other way tart can get root for it.
    expect((await softnetCheck(bin, probes({ sudoOk: () => Promise.resolve(true) }))).status).toBe('ok');
  });

  test('root-owned with the setuid bit: ok; setuid but owned by someone else: fail', async () => {
    const dir = join(root, 'suid');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'softnet');
    writeFileSync(file, '#!/bin/sh\n');
    chmodSync(file, 0o4755);
    if (process.getuid?.() === 0) {
      chownSync(file, 0, 0);
      chmodSync(file, 0o4755); // chown clears the setuid bit
      expect(await softnetCheck(dir, probes())).toMatchObject({ status: 'ok', detail: `${file} is setuid root` });
      chownSync(file, 1000, 1000);
      chmodSync(file, 0o4755);
      expect((await softnetCheck(dir, probes())).status).toBe('fail');
    } else {
      // Not root: the file is ours, so setuid does not make it root's.
      expect((await softnetCheck(dir, probes())).status).toBe('fail');
    }
  });
});
