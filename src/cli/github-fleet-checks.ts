/**
 * The `validate` lines about the fleet as GitHub will see it, beyond the token (github-checks.ts):
 * - runner names: `tf-<profile>-<job id>-<attempt>` must fit GitHub's 64 characters for every profile;
 * - public repositories: which runner groups the org's public repositories can reach, FAIL when a
 *   trusted profile's group admits them, warn when a profile that receives them shares a read-write
 *   cache or sits on plain NAT (#16: validate tells the truth);
 * - runner version: warn when this Mac's runners (or the image's pin) are older than GitHub's latest
 *   release, because a JIT runner then updates itself on every boot (audit B2).
 * The observation is github-fleet.ts's; this module judges it and words the lines.
 *
 * ## Gotchas
 * - Job ids are 11 digits today (55390717848 in ARC #4315) and grow by a few billion a year; the name
 *   check assumes 16 digits, which is decades of headroom, and a two-digit attempt suffix.
 * - A trusted group that admits public repositories FAILs even when no public repository has a job
 *   yet: GitHub routes by group, and any fork's pull request can name the labels (security audit §3).
 * - The image's runner version cannot be read without booting it. Our connected runners report it;
 *   without any, the version pinned in images/scripts/30-actions-runner.sh stands in (kept equal by a
 *   test).
 * - No line carries a token or a JIT config.
 */
import type { Config, Profile } from '../config/types.js';
import type { FleetFacts, GitHubFleetProbe } from '../adapters/github-fleet.js';
import type { CheckResult } from './checks.js';

/** GitHub's limit on runner names (actions/runner PR #1710). */
export const MAX_RUNNER_NAME = 64;
/** Digits assumed for a job id (see the header). */
export const JOB_ID_DIGITS = 16;
/** The longest attempt suffix assumed (`-99`). */
const ATTEMPT_SUFFIX = '-99';
/** The runner version images/scripts/30-actions-runner.sh pins (a test keeps them equal). */
export const PINNED_RUNNER_VERSION = '2.336.0';

/** The longest runner name a profile can get. */
export function longestRunnerName(profile: string): string {
  return `tf-${profile}-${'9'.repeat(JOB_ID_DIGITS)}${ATTEMPT_SUFFIX}`;
}

export function runnerNameChecks(config: Config): CheckResult[] {
  const what = 'runner names';
  const tooLong = Object.values(config.profiles).filter((p) => longestRunnerName(p.name).length > MAX_RUNNER_NAME);
  if (tooLong.length === 0) {
    const worst = Math.max(...Object.values(config.profiles).map((p) => longestRunnerName(p.name).length));
    return [{ status: 'ok', what, detail: `tf-<profile>-<job id>-<attempt> stays within GitHub's ${MAX_RUNNER_NAME} characters (longest ${worst}, assuming ${JOB_ID_DIGITS}-digit job ids)` }];
  }
  return tooLong.map((p) => ({
    status: 'fail' as const,
    what,
    detail: `profile ${p.name}: runner names like ${longestRunnerName(p.name)} (${longestRunnerName(p.name).length} characters) exceed GitHub's ${MAX_RUNNER_NAME}; GitHub would refuse every runner of it (422): shorten the profile name to at most ${MAX_RUNNER_NAME - longestRunnerName('').length} characters`,
  }));
}

/** Whether runner version `ours` is older than `latest` (dotted numbers); false when either is not one. */
export function runnerOutdated(ours: string, latest: string): boolean {
  const parse = (v: string) => (/^\d+(\.\d+)*$/.test(v.trim()) ? v.trim().split('.').map(Number) : undefined);
  const a = parse(ours);
  const b = parse(latest);
  if (!a || !b) return false;
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x < y;
  }
  return false;
}

export function runnerVersionChecks(facts: FleetFacts): CheckResult[] {
  const what = 'runner version';
  const latest = facts.latestRunnerVersion;
  if (facts.downloadsMissing) {
    return [{
      status: 'warn',
      what,
      detail: `GitHub answered 404 Not Found to GET /orgs/${facts.org}/actions/runners/downloads (this server does not offer the runner downloads list): cannot tell whether the image's runner (${PINNED_RUNNER_VERSION} pinned) is current`,
    }];
  }
  if (!latest) return [{ status: 'warn', what, detail: `GitHub's runner downloads list names no version; cannot tell whether the image's runner (${PINNED_RUNNER_VERSION} pinned) is current` }];
  const reported = facts.ourRunnerVersions;
  // The oldest one we run decides; without a connected runner the image's pin stands in.
  const ours = reported.length > 0 ? [...reported].sort((x, y) => (runnerOutdated(x, y) ? -1 : runnerOutdated(y, x) ? 1 : 0))[0]! : PINNED_RUNNER_VERSION;
  const source = reported.length > 0 ? `this Mac's runners report ${ours}` : `the image pins ${ours} (images/scripts/30-actions-runner.sh; no runner of this Mac is connected)`;
  if (runnerOutdated(ours, latest)) {
    return [{
      status: 'warn',
      what,
      detail: `${source}, GitHub's latest is ${latest}: the runner updates itself on every boot (~10–30 s offline); re-bake the image with RUNNER_VERSION=${latest} (images/README.md, "Upgrading the runner")`,
    }];
  }
  return [{ status: 'ok', what, detail: `${source}, GitHub's latest is ${latest}` }];
}

export function publicRepositoryChecks(config: Config, facts: FleetFacts): CheckResult[] {
  const what = 'public repositories';
  const profiles = Object.values(config.profiles);
  const out: CheckResult[] = [];
  for (const [id, lookup] of facts.groups) {
    // github.runner_group_id has its own line (github-checks.ts).
    if (lookup.kind === 'found' || id === config.github.runner_group_id) continue;
    const users = profiles.filter((p) => p.runner_group_id === id).map((p) => p.name);
    out.push({
      status: 'fail',
      what: 'runner group',
      detail: lookup.kind === 'not-found'
        ? `runner group ${id} (profiles ${users.join(', ')}) not found in org ${facts.org}; list them with GET /orgs/${facts.org}/actions/runner-groups and set runner_group_id`
        : `cannot read runner group ${id} (profiles ${users.join(', ')}) of org ${facts.org} (403 ${lookup.message})`,
    });
  }
  const groupName = (id: number) => {
    const l = facts.groups.get(id);
    return l?.kind === 'found' ? `"${l.group.name}" (id ${id})` : `group ${id}`;
  };
  const reach = (p: Profile) => facts.publicReach.get(p.runner_group_id) ?? [];
  // Judged on the group's setting, not on today's repositories: one repository made public later
  // would turn it into a live hole, with nothing re-checking (audit turn4-security N10, e7-B).
  const trustedOpen = new Set<string>();
  const trustedFails: CheckResult[] = [];
  for (const p of profiles) {
    const lookup = facts.groups.get(p.runner_group_id);
    if (p.trust !== 'trusted' || lookup?.kind !== 'found') continue;
    const g = lookup.group;
    if (!g.allowsPublicRepositories || g.visibility === 'private') continue;
    trustedOpen.add(p.name);
    const exposed = reach(p).length > 0 ? reach(p) : facts.publicRepos;
    trustedFails.push({
      status: 'fail',
      what,
      detail: `trusted profile ${p.name} uses runner group ${groupName(g.id)}, which allows public repositories: ${exposed.length > 0 ? `a fork's pull request in ${preview(exposed)} could run` : 'once any repository of the org is public, a fork\'s pull request there could run'} on a trusted VM (its cache, its network); turn off "Allow public repositories" for that group, or give the profile a group that refuses them and send public repositories to an untrusted profile`,
    });
  }

  if (facts.publicRepos.length === 0) {
    out.push({ status: 'ok', what, detail: `org ${facts.org} has no public repositories: no stranger's pull request can reach these runners` }, ...trustedFails);
    return out;
  }
  const reached = [...facts.publicReach.entries()].filter(([, repos]) => repos.length > 0);
  const summary = reached.length === 0
    ? 'none of the profiles\' runner groups admits them'
    : reached.map(([id, repos]) => `${groupName(id)} admits ${repos.length === facts.publicRepos.length ? 'all of them' : repos.join(', ')} (profiles ${profiles.filter((p) => p.runner_group_id === id).map((p) => p.name).join(', ')})`).join('; ');
  out.push({ status: 'ok', what, detail: `org ${facts.org} has ${facts.publicRepos.length} public repositories (${preview(facts.publicRepos)}); ${summary}` }, ...trustedFails);

  for (const p of profiles) {
    const lookup = facts.groups.get(p.runner_group_id);
    if (lookup?.kind !== 'found' || trustedOpen.has(p.name)) continue;
    if (reach(p).length === 0) continue;
    const risks = [
      ...(p.cache === 'rw' ? ['cache rw (one job can plant files the next runs)'] : []),
      ...(p.network === 'nat' ? ['network nat (a root job can answer for its neighbour VM\'s address)'] : []),
    ];
    if (risks.length > 0) {
      out.push({ status: 'warn', what, detail: `profile ${p.name} receives jobs of public repositories (${preview(reach(p))}) with ${risks.join(' and ')}; use cache none, ro or clone and network softnet` });
    }
  }
  return out;
}

function preview(names: string[]): string {
  return names.length <= 3 ? names.join(', ') : `${names.slice(0, 3).join(', ')} and ${names.length - 3} more`;
}

/** All fleet lines; a GitHub failure is one FAIL line (unless validate already reported GitHub down). */
export async function githubFleetChecks(probe: GitHubFleetProbe, config: Config, hostLabel: string, opts: { githubFailed: boolean }): Promise<CheckResult[]> {
  const names = runnerNameChecks(config);
  const groupIds = Object.values(config.profiles).map((p) => p.runner_group_id);
  let facts: FleetFacts;
  try {
    facts = await probe.describeFleet(groupIds, hostLabel);
  } catch (err) {
    if (opts.githubFailed) return names;
    // Name the request that failed (Octokit's RequestError carries it): not a guess at which fact it was.
    const e = err as { status?: number; request?: { method?: string; url?: string } };
    const request = e.request?.url ? ` to ${e.request.method ?? 'GET'} ${new URL(e.request.url).pathname}` : '';
    const answered = e.status !== undefined && request ? `GitHub answered ${e.status}${request}: ` : '';
    return [...names, { status: 'fail', what: 'public repositories', detail: `cannot read the org's runner groups, public repositories and runner versions: ${answered}${(err as Error).message}` }];
  }
  return [...names, ...publicRepositoryChecks(config, facts), ...orgSettingsChecks(facts), ...runnerVersionChecks(facts)];
}

/**
 * The org setting the security checklist depends on that the API can read: the default
 * GITHUB_TOKEN permissions (SECURITY.md checklist item 3). A writable default, or Actions allowed to
 * approve pull requests, hands a stranger's workflow more than it needs; unreadable is said, not
 * guessed. Fork pull request approval is not read (see SECURITY.md).
 */
export function orgSettingsChecks(facts: FleetFacts): CheckResult[] {
  const what = 'org settings';
  const w = facts.workflowPermissions;
  if ('unreadable' in w) {
    return [{ status: 'warn', what, detail: `cannot read org ${facts.org}'s default GITHUB_TOKEN permissions (${w.unreadable}; needs admin:org, or the App's Administration organization permission, read)`, fix: 'check Settings → Actions → General → Workflow permissions by hand: read-only, and Actions may not approve pull requests' }];
  }
  const out: CheckResult[] = [];
  if (w.defaultPermissions !== 'read') {
    out.push({ status: 'warn', what, detail: `org ${facts.org}'s default GITHUB_TOKEN permissions are "${w.defaultPermissions}": every workflow, a stranger's included, gets a writable token unless it says otherwise`, fix: 'Settings → Actions → General → Workflow permissions: Read repository contents and packages permissions' });
  }
  if (w.canApprovePullRequests) {
    out.push({ status: 'warn', what, detail: `org ${facts.org} lets GitHub Actions create and approve pull requests`, fix: 'Settings → Actions → General: turn off "Allow GitHub Actions to create and approve pull requests"' });
  }
  if (out.length === 0) out.push({ status: 'ok', what, detail: `org ${facts.org}: default GITHUB_TOKEN read-only, Actions may not approve pull requests` });
  return out;
}
