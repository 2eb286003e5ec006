/**
 * Which repository a VM of ours really serves, for the fair share (`host.max_vms_per_repo`): the
 * repository of the job GitHub gave its runner, once GitHub says so, else the one it was made for.
 *
 * A JIT runner is registered for a label set, not for a job: GitHub hands it whichever matching job
 * it picks (actions/runner: the broker assigns a queued job to any idle runner whose labels match;
 * the fake GitHub models this, src/sim/github/broker.ts). A VM created for `small-app#7` can end up
 * running `big-lib#2`. Counting it under the claimed job's repository let one repository's matrix
 * hold more VMs than its cap while the claimed repository looked served (audit turn4-security N2).
 *
 * ## Gotchas
 * - "Once GitHub says so" means the job list shows an `in_progress` job whose `runner_name` is the
 *   VM's runner. Until then (booting, or the sweep has not re-read that run) the claim is the best
 *   guess, and fairness is best effort (SECURITY.md).
 * - Pure: the planner passes the jobs it observed.
 */
import type { Job } from './ports.js';

/** In-progress jobs by the name of the runner running them. */
export function jobsByRunner(jobs: Iterable<Job>): Map<string, Job> {
  const out = new Map<string, Job>();
  for (const j of jobs) if (j.status === 'in_progress' && j.runnerName) out.set(j.runnerName, j);
  return out;
}

/** The repository the runner `runner` serves: its running job's, else that of the job it was claimed for. */
export function servedRepo(runner: string, claimedJobId: number, byRunner: Map<string, Job>, byId: Map<number, Job>): string | undefined {
  return byRunner.get(runner)?.repo ?? byId.get(claimedJobId)?.repo;
}
