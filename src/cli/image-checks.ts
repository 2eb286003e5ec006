/**
 * `validate`'s check that every profile fits the golden image it clones: a macOS image refuses
 * fewer CPUs or less memory than its `cpuCountMin`/`memorySizeMin` (`tart set` fails with
 * LessThanMinimalResourcesError, so every job of that profile would fail to boot), and a profile
 * whose `os` differs from the image's would be counted against the wrong cap (`max_vms` binds
 * macOS guests only).
 *
 * ## Gotchas
 * - The minimums are not in `tart get`'s output; they live in the VM's `config.json` under
 *   `$TART_HOME/vms/<image>/` (facts sheet §3, tart's VMConfig.swift). Reading that file is
 *   read-only and works while `run` runs. An image pulled but not cloned locally (OCI cache only)
 *   has no such directory: the golden-image check already fails for it, so this one stays quiet.
 * - tart enforces the minimums only for macOS guests; Linux images get the OS check alone. A config
 *   without `os` (very old images) is macOS, as tart reads it (audit tart.md #14).
 * - Every current macOS image says 2 CPUs and 4 GiB ("memorySizeMin" : 4294967296), so the seed's
 *   2048 MB `coder` fails here on a macOS image: it needs ram_mb >= 4096 or a Linux image.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { imageOf, type Config } from '../config/types.js';
import type { CheckResult } from './checks.js';

interface ImageConfig {
  os?: string;
  cpuCountMin?: number;
  memorySizeMin?: number;
}

const MIB = 1024 * 1024;

export function imageFitChecks(tartHome: string, config: Config): CheckResult[] {
  const results: CheckResult[] = [];
  for (const profile of Object.values(config.profiles)) {
    const image = imageOf(profile, config);
    const cfg = readImageConfig(tartHome, image);
    if (cfg === undefined) continue;
    const what = `profile ${profile.name}`;
    if (cfg instanceof Error) {
      results.push({ status: 'warn', what, detail: `cannot read ${image}'s config.json: ${cfg.message}` });
      continue;
    }
    const problems: string[] = [];
    // tart decodes a config without `os` as darwin (VMConfig.swift:110) and enforces the minimums.
    const imageOs = cfg.os === undefined || cfg.os === 'darwin' ? 'macos' : cfg.os === 'linux' ? 'linux' : undefined;
    if (imageOs === 'macos') {
      if (cfg.cpuCountMin !== undefined && profile.cpu < cfg.cpuCountMin) {
        problems.push(`cpu ${profile.cpu} is below ${image}'s minimum of ${cfg.cpuCountMin}`);
      }
      if (cfg.memorySizeMin !== undefined && profile.ram_mb * MIB < cfg.memorySizeMin) {
        problems.push(`ram_mb ${profile.ram_mb} is below ${image}'s minimum of ${Math.ceil(cfg.memorySizeMin / MIB)} MB`);
      }
    }
    if (problems.length > 0) {
      const minMb = cfg.memorySizeMin !== undefined ? Math.ceil(cfg.memorySizeMin / MIB) : undefined;
      const raise = [
        ...(minMb !== undefined && profile.ram_mb < minMb ? [`ram_mb to ${minMb}`] : []),
        ...(cfg.cpuCountMin !== undefined && profile.cpu < cfg.cpuCountMin ? [`cpu to ${cfg.cpuCountMin}`] : []),
      ].join(' and ');
      results.push({
        status: 'fail',
        what,
        detail: `${problems.join('; ')}: tart set would refuse it (LessThanMinimalResourcesError) and every ${profile.name} job would fail to boot`,
        // tart enforces these minimums for macOS guests only (VMConfig.swift): a Linux image takes the profile as it is.
        fix: `a macOS guest needs its image's minimums; to keep this size, give the profile a Linux image (os: linux, image: <a Linux golden image>), or raise ${raise}`,
      });
      continue;
    }
    if (imageOs !== undefined && imageOs !== profile.os) {
      results.push({
        status: 'warn',
        what,
        detail: `os is ${profile.os} but ${image} is a ${imageOs} image: ${profile.os === 'linux' ? 'its VMs would escape' : 'its VMs would wrongly count against'} the max_vms cap on macOS guests (set os: ${imageOs})`,
      });
      continue;
    }
    results.push({ status: 'ok', what, detail: `${profile.cpu} CPU / ${profile.ram_mb} MB fits ${image}${imageOs ? ` (${imageOs})` : ''}` });
  }
  return results;
}

/** The image's config.json; undefined when the image is not a local VM, an Error when unreadable. */
function readImageConfig(tartHome: string, image: string): ImageConfig | Error | undefined {
  // A remote name (ghcr.io/…:tag) has no directory of its own under vms/.
  if (image.includes('/')) return undefined;
  const file = join(tartHome, 'vms', image, 'config.json');
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as ImageConfig;
  } catch (err) {
    return err as Error;
  }
}
