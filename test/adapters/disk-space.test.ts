import { mkdtempSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StatfsDiskSpace } from '../../src/adapters/disk-space.js';

test('free bytes of the volume holding TART_HOME, measured at its nearest existing parent when it does not exist yet', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tf-disk-'));
  const s = statfsSync(dir);
  const expected = s.bavail * s.bsize;
  const measured = await new StatfsDiskSpace(join(dir, 'not', 'yet', '.tart')).freeBytes();
  // Other processes write meanwhile; the same volume answers within a few hundred MB.
  expect(Math.abs(measured - expected)).toBeLessThan(500e6);
  expect(measured).toBeGreaterThan(0);
});
