/**
 * Puts an org-scale scenario (org-schedule.ts) into a fake GitHub and plays its jobs: the repos
 * with their pushed-at ages, then each job queued at its time after the window start, with its
 * event (only `push` moves pushed_at). Records when each job was really queued (the fake's
 * `created_at`), the zero of its discovery latency.
 *
 * ## Gotchas
 * - Timers, not a loop: a job is queued when its timer fires, and the latency counts from then, so
 *   a late timer on a loaded machine shifts the job, not the figure.
 * - The fake's clock is the wall clock (both pollers' fakes run on Date.now).
 */
import type { FakeGitHub } from '../sim/github/server.js';
import type { OrgSchedule, ScheduledJob } from './org-schedule.js';

export interface PlayedJob extends ScheduledJob {
  jobId: number;
  /** When the fake queued it (epoch ms). */
  queuedAt: number;
}

/** Adds the schedule's repositories, pushed their ages before `windowStart` (epoch ms). */
export function addOrgRepos(fake: FakeGitHub, schedule: OrgSchedule, windowStart: number): void {
  for (const r of schedule.repos) fake.addRepo(r.name, { pushedAt: windowStart - r.pushedAgoS * 1000 });
}

export class OrgDriver {
  readonly played: PlayedJob[] = [];
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly fake: FakeGitHub,
    private readonly schedule: OrgSchedule,
    /** The labels of each job (e.g. one profile per kind of job). */
    private readonly labels: (job: ScheduledJob) => string[],
  ) {}

  /** Queues every job at `windowStart + atS`; `onQueued` sees each one. */
  start(windowStart: number, onQueued?: (job: PlayedJob) => void): void {
    for (const job of this.schedule.jobs) {
      const timer = setTimeout(() => {
        const { jobId } = this.fake.queueJob({
          repo: job.repo,
          labels: this.labels(job),
          name: `${job.kind}-${job.event}`,
          durationMs: job.durationS * 1000,
          event: job.event,
        });
        const played = { ...job, jobId, queuedAt: this.fake.job(jobId).history[0]!.at };
        this.played.push(played);
        onQueued?.(played);
      }, Math.max(0, windowStart + job.atS * 1000 - Date.now()));
      this.timers.push(timer);
    }
  }

  stop(): void {
    for (const t of this.timers) clearTimeout(t);
  }
}
