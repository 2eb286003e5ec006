/**
 * The `validate` lines about the event feed (docs/event-feed.md): the configured webhook exists, is
 * active, is subscribed to `workflow_job`, and its delivery log is readable with these credentials
 * (and, when not, which permission is missing). The observation is github-hook.ts's; this module
 * judges it and words the lines.
 *
 * ## Gotchas
 * - No feed configured is not a problem: one `ok` line says the sweep alone finds jobs.
 * - A 404 may be a missing hook or a token that may not see hooks: the fix names both.
 */
import type { Config } from '../config/types.js';
import type { GitHubHookProbe } from '../adapters/github-hook.js';
import type { HookSource } from '../adapters/github-hook-feed.js';
import type { CheckResult } from './checks.js';

const WHAT = 'event feed';
const PERMISSION = 'a classic token needs the admin:org_hook scope (and an org owner); a fine-grained token or GitHub App the organization permission "Webhooks: read"';

export function hookSourceOf(config: Config): HookSource | undefined {
  if (config.github.hook_id !== undefined) return { kind: 'org', hookId: config.github.hook_id };
  return config.github.app_hook ? { kind: 'app' } : undefined;
}

export async function githubHookChecks(probe: GitHubHookProbe, config: Config): Promise<CheckResult[]> {
  const source = hookSourceOf(config);
  if (!source) {
    return [{ status: 'ok', what: WHAT, detail: 'none configured: new jobs are found by the sweep alone (a quiet repository waits for its turn in the round); github.hook_id or github.app_hook turns it on (docs/event-feed.md)' }];
  }
  let facts;
  try {
    facts = await probe.describeHook(source);
  } catch (err) {
    return [{ status: 'fail', what: WHAT, detail: `the webhook could not be read: ${(err as Error).message}`, fix: 'check the network and github.api_url; the daemon would run on the sweep alone' }];
  }
  switch (facts.kind) {
    case 'unusable':
      return [{ status: 'fail', what: WHAT, detail: `${facts.source}: ${facts.message}`, fix: source.kind === 'app' ? 'use GitHub App auth, or an org webhook with github.hook_id' : 'check the token' }];
    case 'not-found':
      return [{
        status: 'fail', what: WHAT, detail: `${facts.source} not found (deleted, a wrong id, or not visible to this token)`,
        fix: source.kind === 'org' ? `check github.hook_id (GET /orgs/${config.github.org}/hooks lists them), or create one with \`tart-fleet hook create\`; ${PERMISSION}` : 'give the App a webhook URL in its settings and subscribe it to "Workflow job"',
      }];
    case 'forbidden':
      return [{ status: 'fail', what: WHAT, detail: `${facts.source}: not readable (403: ${facts.message})`, fix: PERMISSION }];
    case 'found':
      break;
  }
  const out: CheckResult[] = [];
  const subscribed = facts.events.includes('workflow_job') || facts.events.includes('*');
  if (facts.active === false) {
    out.push({ status: 'fail', what: WHAT, detail: `${facts.source} is inactive: GitHub records no deliveries for it`, fix: 'activate it (its settings page, or PATCH /orgs/{org}/hooks/{id} with active: true)' });
  }
  if (!subscribed) {
    out.push({ status: 'fail', what: WHAT, detail: `${facts.source} is not subscribed to workflow_job (events: ${facts.events.join(', ') || 'none'})`, fix: 'subscribe it to "Workflow jobs" (the only event the feed reads)' });
  }
  if (!facts.deliveries.readable) {
    out.push({ status: 'fail', what: WHAT, detail: `${facts.source}: its deliveries are not readable (${facts.deliveries.status}: ${facts.deliveries.message})`, fix: PERMISSION });
  }
  if (out.length === 0) {
    out.push({ status: 'ok', what: WHAT, detail: `${facts.source} (${facts.url}): ${facts.active === null ? '' : 'active, '}subscribed to workflow_job, deliveries readable; new jobs are seen within seconds` });
  }
  return out;
}
