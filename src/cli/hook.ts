/**
 * `tart-fleet hook create [--url URL]`: creates an org webhook for the event feed (docs/event-feed.md),
 * subscribed to `workflow_job` only, when the operator asks. The daemon never creates one itself.
 *
 * Why the default URL is `https://tart-fleet.invalid/`: the feed only reads GitHub's log of delivery
 * attempts, so the payloads must go nowhere. `.invalid` is reserved by RFC 2606 §2 ("guaranteed never
 * to resolve"), so no third party can ever receive them, and nothing of ours listens. Every attempt is
 * then recorded as failed; GitHub does not retry failed deliveries ("GitHub does not automatically
 * redeliver failed deliveries": docs.github.com/en/webhooks/using-webhooks/handling-failed-webhook-
 * deliveries) and keeps the log 3 days (viewing-webhook-deliveries). GitHub's docs we read describe
 * no automatic disabling of such a hook; `validate` checks that it is still active.
 *
 * ## Gotchas
 * - GitHub refuses URLs it deems unreachable from the internet (e.g. localhost); whether it refuses
 *   `.invalid` is not verified. On a refusal the command prints GitHub's message and suggests `--url`
 *   with a name in a domain the operator owns that has no DNS record (never a third party's host).
 * - Needs `admin:org_hook` (classic) or the organization permission "Webhooks: write", as an org owner.
 * - Payloads carry repository and job names; with a URL nobody serves they are never sent anywhere.
 */
import { loadForCommand } from './config.js';
import { buildAdapters } from './wiring.js';
import { println, type CliContext } from './context.js';

export const DEFAULT_HOOK_URL = 'https://tart-fleet.invalid/';

export async function hookCreateCommand(ctx: CliContext, opts: { config?: string; url?: string }): Promise<number> {
  const { config } = loadForCommand(ctx, opts.config);
  const url = opts.url ?? DEFAULT_HOOK_URL;
  if (!/^https:\/\/[^/\s]+/.test(url)) {
    println(ctx.stderr, `--url: must be an https:// URL, got ${url}`);
    return 2;
  }
  const { githubAccess } = buildAdapters(ctx, config, { needGuest: false });
  if (!githubAccess) return 2;
  try {
    const hook = await githubAccess.createOrgHook(url);
    println(ctx.stdout, `created org webhook ${hook.id} on ${config.github.org}: ${hook.url}, events ${hook.events.join(', ')}, ${hook.active ? 'active' : 'inactive'}`);
    println(ctx.stdout, `next: set github.hook_id: ${hook.id} in ${config.source} (or TART_FLEET_GITHUB_HOOK_ID=${hook.id}), then run \`tart-fleet validate\``);
    if (url === DEFAULT_HOOK_URL) {
      println(ctx.stdout, 'its URL is under .invalid (RFC 2606: never resolves), so no one receives the payloads; GitHub records each attempt as failed, does not retry it, and keeps the log 3 days, which is all tart-fleet reads');
    }
    return 0;
  } catch (err) {
    const e = err as { status?: number; message?: string; response?: { data?: { errors?: Array<{ message?: string }> } } };
    const detail = e.response?.data?.errors?.map((x) => x.message).filter(Boolean).join('; ') || e.message || String(err);
    println(ctx.stderr, `GitHub refused to create the webhook (${e.status ?? 'no answer'}): ${detail}`);
    if (e.status === 422) println(ctx.stderr, 'try --url https://<a name in a domain you own, with no DNS record>/ : payloads then go nowhere, and never to a third party');
    if (e.status === 403 || e.status === 404) println(ctx.stderr, 'the token needs admin:org_hook (classic) or the organization permission "Webhooks: write" (fine-grained, App), as an org owner');
    return 1;
  }
}
