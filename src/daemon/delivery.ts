/**
 * Runner delivery whatever the local network allows (`vm.runner_delivery`): the `Guest` the
 * creator uses, choosing per launch between node-ssh (adapters/ssh.ts) and `tart exec -i`
 * (adapters/tart-exec-guest.ts). Both put the JIT config on the command's stdin only, never in
 * argv, the environment or a file.
 *
 * - `ssh` (default): node-ssh, unless the boot proof (daemon/boot-proof.ts) found SSH to guests of
 *   that image blocked (macOS 15+ Local Network privacy: the daemon's TCP to 192.168.64.x gets "no
 *   route to host", cirruslabs/orchard#221) while `tart exec` works; then `tart exec`, and the log
 *   says so once per image. `tart exec` goes through tart's control socket and vsock, no IP
 *   connection, so Local Network privacy does not apply (tart Exec.swift, ControlSocket.swift).
 * - `ssh-only`: node-ssh, never a fallback. `exec`: `tart exec` always.
 *
 * ## Gotchas
 * - The VM is addressed by its name in both modes: `tart exec <vm>`, and SSH to the address `tart
 *   ip <vm>` gave for that VM. No VM is ever found by looking its IP up (an IP can be reused).
 * - Before a proof has decided (or with `vm.boot_proof: false`) the default mode delivers by SSH.
 */
import type { Logger } from '../core/logger.js';
import type { Guest, GuestTarget, RunnerLaunch } from '../core/ports.js';

export type DeliveryMode = 'ssh' | 'ssh-only' | 'exec';

export interface DeliveringGuestOptions {
  mode: DeliveryMode;
  /** Undefined with `mode: exec` (no SSH credentials needed). */
  ssh: Guest | undefined;
  exec: Guest;
  logger: Logger;
}

export class DeliveringGuest implements Guest {
  private proof: ((image: string) => 'ssh' | 'exec' | null) | undefined;
  private readonly announced = new Set<string>();

  constructor(private readonly opts: DeliveringGuestOptions) {}

  /** Follow the boot proof's per-image verdict (the daemon calls this once its proof exists). */
  follow(proof: (image: string) => 'ssh' | 'exec' | null): void {
    this.proof = proof;
  }

  /** How a runner for a guest of `image` is delivered now. */
  via(image: string): 'ssh' | 'exec' {
    const { mode, ssh } = this.opts;
    if (mode === 'exec' || !ssh) return 'exec';
    if (mode === 'ssh-only') return 'ssh';
    return this.proof?.(image) === 'exec' ? 'exec' : 'ssh';
  }

  launchRunner(target: GuestTarget, encodedJitConfig: string, deadline: number, env: Record<string, string>): Promise<RunnerLaunch> {
    const via = this.via(target.image);
    if (via === 'exec' && this.opts.mode === 'ssh' && !this.announced.has(target.image)) {
      this.announced.add(target.image);
      this.opts.logger.warn('SSH to guests of this image is blocked (boot proof); delivering runners through tart exec', { image: target.image, vm: target.vm });
    }
    const guest = via === 'exec' ? this.opts.exec : this.opts.ssh!;
    return guest.launchRunner(target, encodedJitConfig, deadline, env);
  }
}
