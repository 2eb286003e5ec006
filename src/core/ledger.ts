/**
 * The RAM ledger, rebuilt every tick from what exists (no state file): our VMs by name and
 * `tart get`, the creations under way whose VM is not listed yet, and running VMs that are not ours.
 *
 * ## Gotchas
 * - A stopped VM of ours still counts: it is either about to boot (mid-creation) or about to be
 *   deleted; counting it until it is gone is the fail-closed choice.
 * - The macOS slot count follows Apple's licence and Virtualization.framework's limit, which hold
 *   for the whole Mac: a running macOS VM that is not ours takes a slot too. Linux guests take none.
 */
import type { Config, Profile } from '../config/types.js';
import { ramCeilingMb } from '../config/types.js';
import type { ForeignVm, LedgerView, OurVm } from './model.js';
import type { Creating } from './memory.js';

export class Ledger {
  usedMb = 0;
  macosVms = 0;
  foreignMb = 0;

  constructor(readonly ceilingMb: number, readonly maxVms: number) {}

  static build(config: Config, ours: OurVm[], foreign: ForeignVm[], creating: Iterable<Creating>): Ledger {
    const ledger = new Ledger(ramCeilingMb(config.host), config.host.max_vms);
    const listed = new Set(ours.map((v) => v.name));
    for (const vm of ours) {
      const profile = config.profiles[vm.claim.profile];
      ledger.usedMb += vm.memoryMb;
      if ((profile?.os ?? 'macos') === 'macos') ledger.macosVms += 1;
    }
    for (const c of creating) {
      if (listed.has(c.vmName)) continue;
      ledger.usedMb += c.memoryMb;
      if (c.os === 'macos') ledger.macosVms += 1;
    }
    for (const vm of foreign) {
      if (vm.state !== 'running') continue;
      ledger.usedMb += vm.memoryMb;
      ledger.foreignMb += vm.memoryMb;
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
    return undefined;
  }

  reserve(profile: Profile): void {
    this.usedMb += profile.ram_mb;
    if (profile.os === 'macos') this.macosVms += 1;
  }

  view(): LedgerView {
    return { used_mb: this.usedMb, ceiling_mb: this.ceilingMb, vms: this.macosVms, max_vms: this.maxVms, foreign_mb: this.foreignMb };
  }
}
