/**
 * The RAM ledger, rebuilt every tick from what exists (no state file): our VMs by name and
 * `tart get`, the creations under way whose VM is not listed yet, and running VMs that are not ours.
 *
 * ## Gotchas
 * - A stopped VM of ours still counts: it is either about to boot (mid-creation) or about to be
 *   deleted; counting it until it is gone is the fail-closed choice.
 * - The macOS slot count follows Apple's licence and Virtualization.framework's limit, which hold
 *   for the whole Mac: a running macOS VM that is not ours takes a slot too. Linux guests take none.
 * - Boot slots (`host.max_concurrent_boots`) count creations under way, whatever their OS: claims
 *   arrive at up to one a second, so without the cap a burst of jobs on a Mac with RAM for many
 *   Linux VMs boots them all at once; every boot then slows (CPU, disk), boots outlast
 *   `vm.boot_timeout_seconds`, and each retry is one more boot (measured: 120 queued jobs, ~80
 *   creations in flight, 243 clones, 26 jobs run in 10 minutes). A creation keeps its slot through
 *   its boot retries, so retries never add boots.
 */
import type { Config, Profile } from '../config/types.js';
import { ramCeilingMb } from '../config/types.js';
import type { ForeignVm, LedgerView, OurVm } from './model.js';
import type { Creating } from './memory.js';

export class Ledger {
  usedMb = 0;
  macosVms = 0;
  foreignMb = 0;
  /** Creations under way (claim → clone → boot → runner started). */
  boots = 0;

  constructor(readonly ceilingMb: number, readonly maxVms: number, readonly maxBoots: number) {}

  static build(config: Config, ours: OurVm[], foreign: ForeignVm[], creating: Iterable<Creating>): Ledger {
    const ledger = new Ledger(ramCeilingMb(config.host), config.host.max_vms, config.host.max_concurrent_boots);
    const listed = new Set(ours.map((v) => v.name));
    for (const vm of ours) {
      const profile = config.profiles[vm.claim.profile];
      ledger.usedMb += vm.ramMb;
      if ((profile?.os ?? 'macos') === 'macos') ledger.macosVms += 1;
    }
    for (const c of creating) {
      ledger.boots += 1;
      if (listed.has(c.vmName)) continue;
      ledger.usedMb += c.ramMb;
      if (c.os === 'macos') ledger.macosVms += 1;
    }
    for (const vm of foreign) {
      if (vm.state !== 'running') continue;
      ledger.usedMb += vm.ramMb;
      ledger.foreignMb += vm.ramMb;
      if (vm.os === 'darwin') ledger.macosVms += 1;
    }
    return ledger;
  }

  get freeMb(): number {
    return Math.max(0, this.ceilingMb - this.usedMb);
  }

  /** Why `profile` does not fit now, or undefined when it does. */
  whyNot(profile: Profile): string | undefined {
    if (profile.ram_mb > this.freeMb) return `needs ${profile.ram_mb} MB, ${this.freeMb} MB free`;
    if (profile.os === 'macos' && this.macosVms >= this.maxVms) return `${this.macosVms}/${this.maxVms} macOS VMs running`;
    if (this.boots >= this.maxBoots) return `${this.boots}/${this.maxBoots} VMs being created (host.max_concurrent_boots); waits for one to finish booting`;
    return undefined;
  }

  reserve(profile: Profile): void {
    this.usedMb += profile.ram_mb;
    if (profile.os === 'macos') this.macosVms += 1;
    this.boots += 1;
  }

  view(): LedgerView {
    return { used_mb: this.usedMb, ceiling_mb: this.ceilingMb, vms: this.macosVms, max_vms: this.maxVms, foreign_mb: this.foreignMb };
  }
}
