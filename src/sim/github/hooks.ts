/**
 * Webhooks of the fake GitHub: organisation webhooks and a GitHub App's own webhook, and the log of
 * their delivery attempts that GitHub keeps and lists over REST. Nothing is ever sent anywhere: the
 * fake records each delivery as GitHub would after trying, which is all a poller of the log can see.
 *
 * Sources (GitHub docs, read 2026-12):
 * - REST, organisation webhooks: https://docs.github.com/en/rest/orgs/webhooks — `GET /orgs/{org}/hooks`,
 *   `…/hooks/{hook_id}`, `…/deliveries` (`per_page` ≤ 100, default 30; opaque `cursor` "Refer to the
 *   `link` header for the next and previous page cursors"), `…/deliveries/{delivery_id}` with
 *   `request.payload`. Classic tokens need `admin:org_hook`; Apps and fine-grained tokens the
 *   organisation permission "Webhooks" (`organization_hooks`) read.
 * - REST, GitHub App webhooks: https://docs.github.com/en/rest/apps/webhooks — `GET /app/hook/config`,
 *   `GET /app/hook/deliveries[/{id}]`, authenticated with the App's JWT, not an installation token.
 * - Schema `hook-delivery-item` (github/rest-api-description): id, guid, delivered_at, redelivery,
 *   duration, status, status_code, event, action, installation_id, repository_id, throttled_at.
 * - Newest first: not said in words, but GitHub's own redelivery sample script depends on it
 *   (https://docs.github.com/en/webhooks/using-webhooks/automatically-redelivering-failed-deliveries-for-an-organization-webhook).
 * - Retention: "You can view details about webhook deliveries from the past 3 days."
 *   (https://docs.github.com/en/webhooks/testing-and-troubleshooting-webhooks/viewing-webhook-deliveries)
 * - "GitHub does not automatically redeliver failed deliveries."
 *   (https://docs.github.com/en/webhooks/using-webhooks/handling-failed-webhook-deliveries) A failed
 *   attempt is one list entry, and that is the end of it.
 * - A delivery "can take a few minutes" to show in the log (troubleshooting-webhooks): `delayMs`.
 *
 * ## Gotchas
 * - Which `rel`s the deliveries `link` header carries is unverified; the fake sends `next` only.
 * - The `status` text and `status_code` of a delivery to a name that never resolves are unverified
 *   (the schema's failure example is `"failed to connect"` / 502); the fake records that pair for a
 *   hook URL under `.invalid` (RFC 2606), `OK`/200 otherwise. A poller must not depend on either.
 * - `loseNext`: an event that leaves no entry at all (GitHub's own outage); `throttleNext`: an entry
 *   with `throttled_at` set (GitHub throttled the hook; the schema has the field, its meaning beyond
 *   the name is undocumented).
 * - Deliveries are recorded for every active hook subscribed to the event (`*` is all events), the
 *   App's hook included; a deleted or inactive hook records nothing.
 */
import { randomUUID } from 'node:crypto';

export const DELIVERY_RETENTION_MS = 3 * 86_400_000;

export interface SimHook {
  id: number;
  active: boolean;
  events: string[];
  url: string;
  contentType: 'json' | 'form';
  createdAt: number;
  updatedAt: number;
}

/** `app`: the GitHub App's own webhook; a number: an organisation webhook's id. */
export type HookKey = number | 'app';

export interface SimDelivery {
  id: number;
  hook: HookKey;
  guid: string;
  deliveredAt: number;
  /** When it shows up in the list (the log lags: `delayMs`). */
  visibleAt: number;
  redelivery: boolean;
  duration: number;
  status: string;
  statusCode: number;
  event: string;
  action: string | null;
  installationId: number | null;
  repositoryId: number | null;
  throttledAt: number | null;
  payload: Record<string, unknown>;
  url: string;
}

export interface HookEvent {
  event: string;
  action: string | null;
  repositoryId: number | null;
  payload: Record<string, unknown>;
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z'));

export class HookLog {
  readonly hooks = new Map<number, SimHook>();
  appHook: Omit<SimHook, 'id'> | undefined;
  readonly deliveries: SimDelivery[] = [];
  /** The installation id the App's deliveries carry. */
  installationId: number | null = null;
  /** How long a delivery takes to show in the list. */
  delayMs = 0;
  /** The next n events leave no delivery at all. */
  loseNext = 0;
  /** The next n deliveries are throttled (`throttled_at` set). */
  throttleNext = 0;
  private nextHookId = 1;
  private nextDeliveryId = 90_000_001;

  constructor(private readonly now: () => number) {}

  addHook(opts: { events?: string[]; url?: string; active?: boolean; id?: number } = {}): SimHook {
    const hook: SimHook = { id: opts.id ?? this.nextHookId++, ...this.newHookConfig(opts) };
    this.hooks.set(hook.id, hook);
    return hook;
  }

  setAppHook(opts: { events?: string[]; url?: string; active?: boolean } | undefined): void {
    this.appHook = opts === undefined ? undefined : this.newHookConfig(opts);
  }

  /** A new hook's settings (id aside), with this simulation's defaults for what `opts` leaves out. */
  private newHookConfig(opts: { events?: string[]; url?: string; active?: boolean }): Omit<SimHook, 'id'> {
    const t = this.now();
    return {
      active: opts.active ?? true,
      events: opts.events ?? ['workflow_job'],
      url: opts.url ?? 'https://tart-fleet.invalid/',
      contentType: 'json',
      createdAt: t,
      updatedAt: t,
    };
  }

  /** Records one delivery per subscribed active hook (see the header for the faults). */
  emit(e: HookEvent): void {
    if (this.loseNext > 0) {
      this.loseNext--;
      return;
    }
    const targets: Array<[HookKey, Omit<SimHook, 'id'>]> = [...this.hooks.values()].map((h) => [h.id, h]);
    if (this.appHook) targets.push(['app', this.appHook]);
    const t = this.now();
    const guid = randomUUID();
    let throttled = false;
    if (this.throttleNext > 0) {
      this.throttleNext--;
      throttled = true;
    }
    for (const [key, hook] of targets) {
      if (!hook.active || !(hook.events.includes(e.event) || hook.events.includes('*'))) continue;
      const failed = /\.invalid(?::\d+)?(?:\/|$)/i.test(hook.url.replace(/^https?:\/\//, '').replace(/\/.*/, '/'));
      this.deliveries.push({
        id: this.nextDeliveryId++,
        hook: key,
        guid,
        deliveredAt: t,
        visibleAt: t + this.delayMs,
        redelivery: false,
        duration: failed ? 0.05 : 0.27,
        status: failed ? 'failed to connect' : 'OK',
        statusCode: failed ? 502 : 200,
        event: e.event,
        action: e.action,
        installationId: key === 'app' ? this.installationId : null,
        repositoryId: e.repositoryId,
        throttledAt: throttled ? t : null,
        payload: e.payload,
        url: hook.url,
      });
    }
  }

  /** Deliveries of `hook` the list shows now, newest first (retention and lag applied). */
  visible(hook: HookKey): SimDelivery[] {
    const now = this.now();
    return this.deliveries
      .filter((d) => d.hook === hook && d.visibleAt <= now && now - d.deliveredAt <= DELIVERY_RETENTION_MS)
      .sort((a, b) => b.id - a.id);
  }

  /** One page: `cursor` is where the page starts (an opaque string to clients). */
  page(hook: HookKey, perPage: number, cursor: string | null): { items: SimDelivery[]; next: string | undefined } {
    const all = this.visible(hook);
    const start = cursor === null ? 0 : all.findIndex((d) => d.id <= decodeCursor(cursor));
    if (start < 0) return { items: [], next: undefined };
    const after = all[start + perPage];
    return { items: all.slice(start, start + perPage), next: after ? encodeCursor(after.id) : undefined };
  }

  delivery(hook: HookKey, id: number): SimDelivery | undefined {
    return this.visible(hook).find((d) => d.id === id);
  }
}

function encodeCursor(id: number): string {
  return Buffer.from(`v1:${id}`).toString('base64url');
}

function decodeCursor(cursor: string): number {
  const m = /^v1:(\d+)$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  return m ? Number(m[1]) : Number.NaN;
}

export function hookJson(h: SimHook, org: string, base: string) {
  const url = `${base}/orgs/${org}/hooks/${h.id}`;
  return {
    id: h.id,
    url,
    ping_url: `${url}/pings`,
    deliveries_url: `${url}/deliveries`,
    name: 'web',
    events: [...h.events],
    active: h.active,
    config: { url: h.url, content_type: h.contentType, insecure_ssl: '0' },
    updated_at: iso(h.updatedAt),
    created_at: iso(h.createdAt),
    type: 'Organization',
  };
}

export function appHookConfigJson(h: Omit<SimHook, 'id'>) {
  return { content_type: h.contentType, insecure_ssl: '0', url: h.url };
}

export function deliveryItemJson(d: SimDelivery) {
  return {
    id: d.id,
    guid: d.guid,
    delivered_at: iso(d.deliveredAt),
    redelivery: d.redelivery,
    duration: d.duration,
    status: d.status,
    status_code: d.statusCode,
    event: d.event,
    action: d.action,
    installation_id: d.installationId,
    repository_id: d.repositoryId,
    throttled_at: iso(d.throttledAt),
  };
}

export function deliveryJson(d: SimDelivery) {
  return {
    ...deliveryItemJson(d),
    url: d.url,
    request: {
      headers: {
        'X-GitHub-Delivery': d.guid,
        'X-GitHub-Event': d.event,
        'X-GitHub-Hook-ID': d.hook === 'app' ? '1' : String(d.hook),
        'User-Agent': 'GitHub-Hookshot/sim',
        Accept: '*/*',
        'content-type': 'application/json',
      },
      payload: d.payload,
    },
    response: { headers: {}, payload: null },
  };
}
