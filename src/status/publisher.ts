/**
 * Publishes the daemon's status after every tick: the status snapshot (snapshot.ts) in
 * `host.state_dir`, the Prometheus text in `host.metrics_file`, and, when `host.metrics_port` is
 * set, the same metrics on 127.0.0.1:<port>/metrics.
 *
 * ## Lifecycle
 * `start()` creates the state dir (0755) and opens the metrics port; `publish()` after each tick;
 * `close()` on shutdown closes the port. The files stay: `ls` reads the last one and, seeing its
 * writer gone, says so.
 *
 * ## Gotchas
 * - Publishing never fails the daemon: a write error is logged and the next tick tries again.
 * - IPs: `tart ip` once per running VM, kept while it runs (a guest keeps its lease), so a tick
 *   costs no extra process per VM once its IP is known. A VM that is still being created is not
 *   asked: its creator is already waiting on `tart ip --wait`, and a boot (~20–30 s on a Mac) would
 *   otherwise cost a failing `tart ip` process every tick, ~13 a job in the demo's 1 s ticks.
 * - Everything written passes the secret redactor, although it should hold no secret at all.
 * - A give-up's `since_s` counts from its last failed attempt, which is persisted with the failure
 *   counts (daemon/host-memory.ts): a restart neither resets it nor tries the job again.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Server } from 'node:http';
import type { Config } from '../config/types.js';
import type { Observed } from '../core/model.js';
import type { Remembered } from '../core/memory.js';
import type { Logger } from '../core/logger.js';
import type { Clock, Tart } from '../core/ports.js';
import type { Secrets } from '../secrets/redact.js';
import type { TickReport } from '../daemon/report.js';
import { buildSnapshot, writeSnapshot, type StatusSnapshot } from './snapshot.js';
import { FleetMetrics, serveMetrics, writeMetricsFile } from './metrics.js';

export interface PublisherDeps {
  config: Config;
  tart: Tart;
  clock: Clock;
  logger: Logger;
  secrets: Secrets;
}

export class StatusPublisher {
  readonly metrics = new FleetMetrics();
  private readonly ips = new Map<string, string>();
  private lastOkAt: number | null = null;
  private server: Server | undefined;

  constructor(private readonly deps: PublisherDeps) {}

  async start(): Promise<void> {
    const { host } = this.deps.config;
    // run.ts has made and checked state_dir (ensurePrivateDir); a metrics dir of its own is made 0700.
    mkdirSync(host.state_dir, { recursive: true, mode: 0o700 });
    mkdirSync(dirname(host.metrics_file), { recursive: true, mode: 0o700 });
    if (host.metrics_port !== undefined) {
      try {
        this.server = await serveMetrics(host.metrics_port, this.metrics);
      } catch (err) {
        throw new Error(`host.metrics_port: cannot listen on 127.0.0.1:${host.metrics_port} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); pick a free port or leave it unset`, { cause: err });
      }
      this.deps.logger.info('metrics served', { url: `http://127.0.0.1:${host.metrics_port}/metrics` });
    }
  }

  async publish(report: TickReport, nextTickMs: number): Promise<StatusSnapshot | undefined> {
    const { config, clock, logger, secrets } = this.deps;
    try {
      await this.lookUpIps(report.world, report.memory);
      const now = clock.now();
      if (report.ok) this.lastOkAt = now;
      const snapshot = secrets.redact(buildSnapshot({ report, config, now, pid: process.pid, ips: this.ips, lastOkAt: this.lastOkAt, nextTickMs }));
      writeSnapshot(config.host.state_dir, snapshot);
      this.metrics.record(snapshot, report);
      await writeMetricsFile(config.host.metrics_file, this.metrics);
      return snapshot;
    } catch (err) {
      logger.warn('could not write the status snapshot or metrics', { error: (err as Error).message, state_dir: config.host.state_dir });
      return undefined;
    }
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async lookUpIps(observed: Observed, memory: Remembered): Promise<void> {
    if (!observed.tart.ok) return;
    const running = observed.tart.value.ours.filter((vm) => vm.state === 'running').map((vm) => vm.name);
    for (const name of this.ips.keys()) if (!running.includes(name)) this.ips.delete(name);
    const booting = new Set([...memory.creating.values()].map((c) => c.vmName));
    await Promise.all(
      running
        .filter((name) => !this.ips.has(name) && !booting.has(name))
        .map(async (name) => {
          const ip = await this.deps.tart.ip(name, 0).catch(() => null);
          if (ip) this.ips.set(name, ip);
        }),
    );
  }
}
