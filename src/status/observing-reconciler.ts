/**
 * A Reconciler that keeps the observation its last tick was planned from, so the status snapshot
 * can show the same VMs and runners the tick decided on (a TickReport carries the plan but not
 * the observation). Nothing else changes: `tick()` calls `this.observe()`, which lands here.
 *
 * ## Gotchas
 * - `lastObserved` is the observation of the most recent observe() call: in the daemon only
 *   tick() calls it, so after a tick it is that tick's observation.
 */
import { Reconciler } from '../reconciler.js';
import type { Observed } from '../core/model.js';

export class ObservingReconciler extends Reconciler {
  lastObserved: Observed | undefined;

  override async observe(): Promise<Observed> {
    const observed = await super.observe();
    this.lastObserved = observed;
    return observed;
  }
}
