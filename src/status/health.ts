/**
 * `/healthz` on the metrics port: 200 while the last tick is fresh and completed without failures,
 * 503 otherwise, with a one-line body saying which (for a load balancer, a watchdog, or `curl -f`).
 *
 * ## Gotchas
 * - "Fresh" is the status snapshot's own `stale_after` (snapshot.ts), which allows for the loop's
 *   back-off and slow ticks: a daemon that is alive and on schedule is never called stale here.
 * - A degraded tick (GitHub or tart unreadable) is not healthy: nothing is claimed then.
 * - Before the first tick there is nothing to judge: 503 "no tick yet".
 */
import type { StatusSnapshot } from './snapshot.js';

export interface HealthAnswer {
  ok: boolean;
  line: string;
}

export class TickHealth {
  private last: { ok: boolean; tick: number; writtenAt: number; staleAfter: number; why: string | undefined } | undefined;

  update(s: StatusSnapshot): void {
    const why = s.last_tick.degraded[0] ?? s.last_tick.failures[0];
    this.last = { ok: s.last_tick.ok, tick: s.tick, writtenAt: Date.parse(s.written_at), staleAfter: Date.parse(s.stale_after), why };
  }

  check(now: number): HealthAnswer {
    const l = this.last;
    if (!l) return { ok: false, line: 'no tick yet' };
    const age = Math.max(0, Math.round((now - l.writtenAt) / 1000));
    if (now > l.staleAfter) return { ok: false, line: `stale: no tick for ${age} s (last was tick ${l.tick})` };
    if (!l.ok) return { ok: false, line: `last tick ${l.tick} failed (${age} s ago): ${oneLine(l.why ?? 'unknown failure')}` };
    return { ok: true, line: `ok: tick ${l.tick}, ${age} s ago` };
  }
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 200 ? `${flat.slice(0, 199)}…` : flat;
}
