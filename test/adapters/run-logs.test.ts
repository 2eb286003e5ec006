import { existsSync, mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunLogs } from '../../src/adapters/run-logs.js';

test("a VM's run log goes once the VM has been gone for the retention; live VMs', young and foreign logs stay", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tf-run-logs-'));
  const now = Date.now();
  const write = (name: string, ageH: number) => {
    writeFileSync(join(dir, name), 'tart run output\n');
    const t = (now - ageH * 3_600_000) / 1000;
    utimesSync(join(dir, name), t, t);
  };
  write('tf-mac-a-coder-1.log', 100); // VM gone, old → removed
  write('tf-mac-a-coder-2.log', 100); // VM still exists (a long job) → kept
  write('tf-mac-a-coder-3.log', 10); // VM gone, but recently → kept
  write('tf-mac-b-coder-4.log', 100); // another Mac's name → never ours to touch
  write('notes.log', 100);
  const removed = await new RunLogs(dir, 'mac-a').removeStale(new Set(['tf-mac-a-coder-2']), 72 * 3_600_000, now);
  expect(removed).toEqual(['tf-mac-a-coder-1']);
  expect(['tf-mac-a-coder-1', 'tf-mac-a-coder-2', 'tf-mac-a-coder-3', 'tf-mac-b-coder-4', 'notes'].map((n) => existsSync(join(dir, `${n}.log`)))).toEqual([false, true, true, true, true]);
  expect(await new RunLogs(join(dir, 'missing'), 'mac-a').removeStale(new Set(), 0, now)).toEqual([]);
});
