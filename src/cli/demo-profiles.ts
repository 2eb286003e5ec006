/**
 * The demo's profiles, fitted to the simulated Mac's RAM (`demo --ram-gb N`): the shipped three
 * (developer 8192 MB, coder 4096 MB, marketer 5120 MB, all on the macOS image, as pipeline.yml has
 * them) are shrunk to the VM RAM ceiling (N GB − 4 GB reserved for macOS), never below what their
 * image needs, and a profile that cannot fit at all is left out of the demo (its jobs are not
 * queued). So the base 8 GB Mac mini runs all three at 4096 MB, one VM at a time.
 *
 * ## Gotchas
 * - macOS images need 4096 MB and 2 CPUs (Apple's minimums, as every current image's config.json
 *   says; image-checks.ts); the demo's Linux image needs 2048 MB. Below a 2 GB ceiling nothing fits
 *   and the demo says how much RAM it needs instead of starting a daemon that would refuse its config.
 */
import { LINUX_IMAGE, SEED_PROFILES } from '../sim/world.js';

/** Reserved for macOS itself on the simulated Mac (host.reserved_ram_gb's default). */
export const DEMO_RESERVED_GB = 4;
const MACOS_MIN_MB = 4096;
const LINUX_MIN_MB = 2048;

export type DemoProfile = { ram_mb: number; cpu: number; timeout_minutes: number; os?: string; image?: string };

/** The profiles that fit `ramGb`, each at most the ceiling; empty when none does. */
export function fitDemoProfiles(ramGb: number): Record<string, DemoProfile> {
  const ceilingMb = (ramGb - DEMO_RESERVED_GB) * 1024;
  const out: Record<string, DemoProfile> = {};
  for (const [name, p] of Object.entries(SEED_PROFILES) as Array<[string, DemoProfile]>) {
    const min = minimumOf(p);
    const ram = Math.min(p.ram_mb, ceilingMb);
    if (ram >= min) out[name] = { ...p, ram_mb: ram };
  }
  return out;
}

/** The least RAM one of the demo's VMs needs (MB). */
export function smallestDemoVmMb(): number {
  return Math.min(...Object.values(SEED_PROFILES as Record<string, DemoProfile>).map(minimumOf));
}

/** The smallest `--ram-gb` with which any profile fits. */
export function minimumDemoRamGb(): number {
  return DEMO_RESERVED_GB + smallestDemoVmMb() / 1024;
}

function minimumOf(p: DemoProfile): number {
  return p.image === LINUX_IMAGE || p.os === 'linux' ? LINUX_MIN_MB : MACOS_MIN_MB;
}
