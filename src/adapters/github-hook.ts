/**
 * The event feed's webhook as `validate` and `tart-fleet hook create` see it: read the configured hook
 * (an org webhook, or the GitHub App's own) and whether its delivery log is readable with these
 * credentials; create an org webhook on request. The daemon never calls this (its feed only reads
 * deliveries: github-hook-feed.ts).
 *
 * Sources: https://docs.github.com/en/rest/orgs/webhooks (get a hook: `active`, `events`,
 * `config.url`; list deliveries; create: `name: "web"`, `config.url`, `events`, `active`),
 * https://docs.github.com/en/rest/apps/webhooks and `GET /app` (the App's subscribed `events`), all
 * with the App's JWT. Classic tokens need `admin:org_hook`; fine-grained tokens and Apps the
 * organization permission "Webhooks" (read to list, write to create); org owners only.
 *
 * ## Gotchas
 * - A 404 on an org hook is ambiguous: deleted, a wrong id, or a token that may not see hooks (GitHub
 *   hides some resources behind 404). The check says all three.
 * - What GitHub does with a hook whose deliveries always fail: it records each attempt as failed and
 *   does not retry ("GitHub does not automatically redeliver failed deliveries", handling-failed-
 *   webhook-deliveries); the log keeps 3 days. GitHub's docs we read describe no automatic disabling
 *   of such a hook; `validate` checks `active` every time in case it is switched off.
 */
import type { HookSource } from './github-hook-feed.js';
import type { ConditionalGet } from './github-etag-cache.js';

export type HookFacts =
  | {
    kind: 'found';
    source: string;
    url: string;
    /** Null for the App's hook (its switch is in the App's settings, not in the REST API). */
    active: boolean | null;
    events: string[];
    deliveries: { readable: true } | { readable: false; status: number | undefined; message: string };
  }
  | { kind: 'not-found'; source: string }
  | { kind: 'forbidden'; source: string; message: string }
  | { kind: 'unusable'; source: string; message: string };

export interface CreatedHook {
  id: number;
  url: string;
  events: string[];
  active: boolean;
}

/** What validate and `hook create` need of the GitHub adapter (implemented by GitHubAdapter). */
export interface GitHubHookProbe {
  describeHook(source: HookSource): Promise<HookFacts>;
  createOrgHook(url: string): Promise<CreatedHook>;
}

const statusOf = (err: unknown): number | undefined => (err as { status?: number } | null)?.status;
const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));
const raw = (data: unknown) => data;

export async function describeHook(d: { apiUrl: string; org: string; get: ConditionalGet; appGet: ConditionalGet | undefined }, source: HookSource): Promise<HookFacts> {
  const name = source.kind === 'org' ? `org webhook ${source.hookId}` : "the GitHub App's webhook";
  const base = source.kind === 'org' ? `${d.apiUrl}/orgs/${encodeURIComponent(d.org)}/hooks/${source.hookId}` : `${d.apiUrl}/app/hook`;
  const get = source.kind === 'org' ? d.get : d.appGet;
  if (!get) return { kind: 'unusable', source: name, message: 'github.app_hook needs GitHub App auth (TART_FLEET_GITHUB_APP_ID, TART_FLEET_GITHUB_APP_INSTALLATION_ID, TART_FLEET_GITHUB_APP_PRIVATE_KEY)' };
  let url: string;
  let active: boolean | null;
  let events: string[];
  try {
    if (source.kind === 'org') {
      const hook = (await get(base, raw)).summary as { active?: boolean; events?: string[]; config?: { url?: string } };
      url = hook.config?.url ?? '';
      active = hook.active === true;
      events = hook.events ?? [];
    } else {
      const config = (await get(`${base}/config`, raw)).summary as { url?: string };
      const app = (await get(`${d.apiUrl}/app`, raw)).summary as { events?: string[] };
      url = config.url ?? '';
      active = null;
      events = app.events ?? [];
    }
  } catch (err) {
    const status = statusOf(err);
    if (status === 404) return { kind: 'not-found', source: name };
    if (status === 403) return { kind: 'forbidden', source: name, message: messageOf(err) };
    if (status === 401) return { kind: 'unusable', source: name, message: `401 ${messageOf(err)}` };
    throw err;
  }
  try {
    await get(`${base}/deliveries?per_page=1`, raw);
    return { kind: 'found', source: name, url, active, events, deliveries: { readable: true } };
  } catch (err) {
    const status = statusOf(err);
    if (status === undefined || status >= 500) throw err;
    return { kind: 'found', source: name, url, active, events, deliveries: { readable: false, status, message: messageOf(err) } };
  }
}
