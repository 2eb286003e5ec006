/**
 * `tart-fleet disk`: where this Mac's disk goes. The local tart VMs under `$TART_HOME/vms`
 * (`TART_HOME`, else `~/.tart`), split into this host's VMs (names `tf-<runner_name>-…` that parse
 * as ours), golden images (`vm.image` and every profile's `image`) and other VMs; tart's OCI cache
 * (`$TART_HOME/cache/OCIs`, pulled images); the shared cache dir (`host.cache_dir`); and the free
 * space left. A table, or one JSON object with `--json`. Read-only: safe while `run` runs.
 *
 * ## Gotchas
 * - Sizes come from the filesystem (du.ts), not from `tart list`: the Tart port has no sizes. They
 *   are allocated bytes; `apparent_bytes` counts sparse disk images in full (what `tart list`
 *   calls Disk).
 * - APFS clones share blocks with their golden image until they diverge, and the filesystem cannot
 *   say which are shared: a VM's figure is what it would cost on its own, an upper bound of what
 *   deleting it frees. Free space is the true figure.
 * - Nothing here runs tart or asks GitHub, so it works when either is down.
 */
import { readdir, statfs } from 'node:fs/promises';
import { homedir } from 'node:os';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Table from 'cli-table3';
import { goldenImages } from '../config/types.js';
import { parseVmName } from '../core/names.js';
import { loadForCommand } from './config.js';
import { println, tartHomeOf, type CliContext } from './context.js';
import { diskUsage, formatBytes, type Usage } from './du.js';

export type VmKind = 'ours' | 'golden' | 'other';

interface Group {
  count: number;
  bytes: number;
  apparent_bytes: number;
}

interface Space {
  path: string;
  free_bytes: number;
  total_bytes: number;
}

export interface DiskJson {
  runner_name: string;
  tart_home: string;
  vms: Array<{ name: string; kind: VmKind; bytes: number; apparent_bytes: number }>;
  ours: Group;
  golden: Group;
  other: Group;
  oci_cache: { path: string; exists: boolean; bytes: number };
  cache_dir: { path: string; exists: boolean; bytes: number };
  free_disk: Space | null;
  problems: string[];
}

export async function diskCommand(ctx: CliContext, opts: { config?: string; json?: boolean }): Promise<number> {
  const { config } = loadForCommand(ctx, opts.config);
  const hostName = config.github.runner_name;
  const tartHome = tartHomeOf(ctx);
  const golden = goldenImages(config);
  const problems: string[] = [];
  let failed = false;

  const vmsDir = join(tartHome, 'vms');
  let names: string[] = [];
  try {
    names = (await readdir(vmsDir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name).sort();
  } catch (err) {
    // No vms dir is a Mac with no VMs yet; anything else means we cannot say what VMs take.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      problems.push(`cannot list ${vmsDir}: ${(err as Error).message}`);
      failed = true;
    }
  }
  const vms: DiskJson['vms'] = [];
  for (const name of names) {
    const u = await diskUsage(join(vmsDir, name));
    noteErrors(problems, join(vmsDir, name), u);
    const kind: VmKind = golden.has(name) ? 'golden' : parseVmName(hostName, name) ? 'ours' : 'other';
    vms.push({ name, kind, bytes: u.bytes, apparent_bytes: u.apparentBytes });
  }
  const group = (kind: VmKind): Group => {
    const of = vms.filter((v) => v.kind === kind);
    return { count: of.length, bytes: sum(of.map((v) => v.bytes)), apparent_bytes: sum(of.map((v) => v.apparent_bytes)) };
  };

  const ociPath = join(tartHome, 'cache', 'OCIs');
  const oci = await diskUsage(ociPath);
  noteErrors(problems, ociPath, oci);
  const cachePath = config.host.cache_dir;
  const cache = await diskUsage(cachePath);
  noteErrors(problems, cachePath, cache);

  let free: Space | null = null;
  const where = existsSync(tartHome) ? tartHome : homedir();
  try {
    const s = await statfs(where);
    free = { path: where, free_bytes: s.bavail * s.bsize, total_bytes: s.blocks * s.bsize };
  } catch (err) {
    problems.push(`cannot read free space of ${where}: ${(err as Error).message}`);
  }

  const out: DiskJson = {
    runner_name: hostName,
    tart_home: tartHome,
    vms,
    ours: group('ours'),
    golden: group('golden'),
    other: group('other'),
    oci_cache: { path: ociPath, exists: oci.exists, bytes: oci.bytes },
    cache_dir: { path: cachePath, exists: cache.exists, bytes: cache.bytes },
    free_disk: free,
    problems,
  };
  if (opts.json) println(ctx.stdout, JSON.stringify(out, null, 2));
  else printTables(ctx, out);
  return failed ? 1 : 0;
}

function noteErrors(problems: string[], path: string, u: Usage): void {
  if (u.errors > 0) problems.push(`${u.errors} entr${u.errors === 1 ? 'y' : 'ies'} under ${path} could not be read; its size is a lower bound`);
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

function printTables(ctx: CliContext, d: DiskJson): void {
  const style = { head: [], border: [] };
  const summary = new Table({ head: ['what', 'count', 'on disk', 'apparent', 'where'], style });
  const row = (what: string, g: Group, where: string) => summary.push([what, String(g.count), formatBytes(g.bytes), formatBytes(g.apparent_bytes), where]);
  row(`our VMs (tf-${d.runner_name}-*)`, d.ours, join(d.tart_home, 'vms'));
  row('golden images', d.golden, join(d.tart_home, 'vms'));
  row('other VMs', d.other, join(d.tart_home, 'vms'));
  summary.push(['OCI cache', '-', d.oci_cache.exists ? formatBytes(d.oci_cache.bytes) : '(none)', '-', d.oci_cache.path]);
  summary.push(['cache dir', '-', d.cache_dir.exists ? formatBytes(d.cache_dir.bytes) : '(none)', '-', d.cache_dir.path]);
  println(ctx.stdout, `disk usage on ${d.runner_name} (TART_HOME ${d.tart_home})`);
  println(ctx.stdout, summary.toString());
  println(ctx.stdout, d.free_disk ? `free: ${formatBytes(d.free_disk.free_bytes)} of ${formatBytes(d.free_disk.total_bytes)} on the volume of ${d.free_disk.path}` : 'free: unknown');
  if (d.vms.length > 0) {
    const vms = new Table({ head: ['VM', 'kind', 'on disk', 'apparent'], style });
    for (const v of d.vms) vms.push([v.name, v.kind, formatBytes(v.bytes), formatBytes(v.apparent_bytes)]);
    println(ctx.stdout, vms.toString());
  }
  println(ctx.stdout, 'clones share blocks with their golden image on APFS: per-VM figures are upper bounds of what deleting frees');
  for (const p of d.problems) println(ctx.stdout, `! ${p}`);
}
