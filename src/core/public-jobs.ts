/**
 * A public repository's job that names a trusted profile's labels gets no VM: it would only cost
 * boots. The trusted tier's runner group does not allow public repositories (SECURITY.md; `validate`
 * FAILs a trusted profile whose group does), and GitHub does not assign a public repository's job to
 * a runner of a group that does not allow public repositories (docs.github.com, "Managing access to
 * self-hosted runners using groups": by default only private repositories can use a group's
 * runners; google/go-github#1998 on `allows_public_repositories`: "If it is disabled (default) even
 * public repos that are added to the selected_repositories list cannot use runners of this group";
 * the fake GitHub's broker follows it). Such a VM's runner never gets the job; the audit
 * (turn4-security, e6) counted 3 boots per job before a give-up.
 *
 * ## Gotchas
 * - Only when the repository is known to be public (`Job.repoPublic`, from the repository list).
 *   With `github.repositories` as an allow-list the list is not read: unknown, and admitted as before.
 * - The job stays in the queue view with the reason, so the operator sees why it waits: it needs an
 *   untrusted profile's labels.
 */
import type { Profile } from '../config/types.js';
import type { Job } from './ports.js';

/** Why `profile` takes no VM for `job`, or undefined when it may. */
export function publicJobRefusal(job: Job, profile: Profile): string | undefined {
  if (job.repoPublic !== true || profile.trust !== 'trusted') return undefined;
  return `${job.repo} is public: trusted profile ${profile.name}'s runner group does not take public repositories' jobs, so a VM would never get it; give the workflow an untrusted profile's labels`;
}
