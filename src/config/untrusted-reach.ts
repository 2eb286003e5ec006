/**
 * What an untrusted guest can reach beyond the internet, judged from the config: the Softnet allow
 * and block lists (parsed, and refused when they undo isolation), and what the untrusted tier
 * shares with the trusted one (golden image, guest credentials). Pure: the loader calls it.
 *
 * Softnet's rules (cirruslabs/softnet df84a30, `lib/proxy/vm.rs` allowed_from_vm_ipv4 and
 * `lib/proxy/mod.rs` Target; `src/main.rs` --allow/--block help):
 * - a list entry is an IPv4 CIDR (`Ipv4Net::from_str`) or the alias `@host` (the vmnet bridge's
 *   gateway: the Mac itself). Nothing else parses, IPv6 included: softnet drops every frame that is
 *   not ARP or IPv4, so there is no IPv6 to allow.
 * - user rules are matched first, longest prefix wins, block beats allow on an identical prefix;
 *   with no rule matching, only global destinations, the gateway, and DNS to the DHCP-given
 *   servers are allowed: the LAN, private ranges and link-local (cloud metadata) are not.
 * - `--allow=0.0.0.0/0` "additionally disables bridge isolation (even when --block=0.0.0.0/0 is
 *   specified)": guests can then talk to each other, a trusted VM included.
 * So an untrusted allow list that covers a non-global range (RFC 1918 LAN and the vmnet subnet
 * 192.168.64.0/24, link-local 169.254.0.0/16, CGNAT 100.64.0.0/10, loopback) or `@host`, or is
 * 0.0.0.0/0, gives strangers' jobs what isolation took away: refused unless the profile says
 * `net_softnet_allow_wide: true`.
 *
 * ## Gotchas
 * - Blocking `@host` (`net_softnet_block: ["@host"]`) is the way to keep guests off the Mac's own
 *   services (sshd, Screen Sharing, file sharing), but user rules come before softnet's built-in
 *   "allow the gateway" and "allow DNS": it also blocks SSH replies to the host (so it needs
 *   `vm.runner_delivery: exec`) and DNS when the DHCP-given resolver is the gateway (vmnet's default:
 *   the image must use another resolver). It is therefore not added silently; `@host` blocked
 *   with ssh delivery is an error (no VM could be reached), and an untrusted profile that does not
 *   block it is warned about.
 * - A label on profiles of both tiers is an error: one `runs-on` would match runners of both. The
 *   `tf-host-<mac>` label is on every runner by construction (core/match.ts) and is not checked here;
 *   the runner groups keep the tiers apart for a job pinned by it alone.
 * - Credentials are per host, not per profile (vm.ssh_user, TART_FLEET_SSH_PASSWORD,
 *   vm.ssh_private_key_path): with ssh delivery the daemon logs in to untrusted VMs with the same
 *   password trusted VMs accept, and root in the guest can capture what sshd receives.
 */
import { imageOf, type Config } from './types.js';

/** A parsed list entry: an IPv4 network, or the Mac (the bridge gateway). */
export type SoftnetTarget = { kind: 'cidr'; base: number; prefix: number; text: string } | { kind: 'host' };

/** Parses one `net_softnet_allow`/`_block` value as softnet would; undefined when softnet would refuse it. */
export function parseSoftnetTarget(value: string): SoftnetTarget | undefined {
  const v = value.trim();
  if (v === '@host') return { kind: 'host' };
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:\/(\d{1,2}))?$/.exec(v);
  if (!m) return undefined;
  const octets = m.slice(1, 5).map(Number);
  if (octets.some((o) => o > 255)) return undefined;
  const prefix = m[5] === undefined ? 32 : Number(m[5]);
  if (prefix > 32) return undefined;
  const base = octets.reduce((acc, o) => acc * 256 + o, 0);
  return { kind: 'cidr', base: base - (base % 2 ** (32 - prefix)), prefix, text: v };
}

/** Ranges a guest must not reach unless the operator says so (see the header). */
const NON_GLOBAL: Array<{ cidr: string; what: string }> = [
  { cidr: '10.0.0.0/8', what: 'the private LAN range 10.0.0.0/8' },
  { cidr: '172.16.0.0/12', what: 'the private LAN range 172.16.0.0/12' },
  { cidr: '192.168.0.0/16', what: 'the private range 192.168.0.0/16 (the LAN, and vmnet 192.168.64.0/24: the Mac and the other VMs)' },
  { cidr: '169.254.0.0/16', what: 'link-local 169.254.0.0/16 (cloud metadata at 169.254.169.254)' },
  { cidr: '100.64.0.0/10', what: 'the carrier-grade NAT range 100.64.0.0/10' },
  { cidr: '127.0.0.0/8', what: 'loopback 127.0.0.0/8' },
];

function overlaps(a: { base: number; prefix: number }, b: { base: number; prefix: number }): boolean {
  const p = Math.min(a.prefix, b.prefix);
  const size = 2 ** (32 - p);
  return Math.floor(a.base / size) === Math.floor(b.base / size);
}

/** Why an allow entry undoes isolation, or undefined when it names only global addresses. */
export function wideReason(t: SoftnetTarget): string | undefined {
  if (t.kind === 'host') return '@host lets guests reach the Mac itself (its sshd, Screen Sharing, file sharing)';
  if (t.prefix === 0) return `${t.text} allows every address and disables softnet's bridge isolation: guests reach each other, trusted VMs included`;
  for (const r of NON_GLOBAL) {
    const range = parseSoftnetTarget(r.cidr) as { kind: 'cidr'; base: number; prefix: number };
    if (overlaps(t, range)) return `${t.text} reaches ${r.what}`;
  }
  return undefined;
}

export interface ReachFindings {
  problems: string[];
  warnings: string[];
}

/** Every finding for `config`; `name` maps a JSON pointer to its field or environment variable. */
export function untrustedReach(config: Config, env: NodeJS.ProcessEnv, name: (pointer: string) => string): ReachFindings {
  const problems: string[] = [];
  const warnings: string[] = [];
  // The lists as written, where they were written: a bad vm.* value is reported once, under vm.
  for (const key of ['net_softnet_allow', 'net_softnet_block'] as const) {
    config.vm[key].forEach((v, i) => {
      if (!parseSoftnetTarget(v)) problems.push(`${name(`/vm/${key}`)}[${i}]: ${badTarget(v)}`);
    });
  }
  const profiles = Object.values(config.profiles);
  for (const p of profiles) {
    for (const key of ['net_softnet_allow', 'net_softnet_block'] as const) {
      if (p[key] === config.vm[key]) continue; // inherited: reported under vm
      p[key].forEach((v, i) => {
        if (!parseSoftnetTarget(v)) problems.push(`${name(`/profiles/${p.name}/${key}`)}[${i}]: ${badTarget(v)}`);
      });
    }
    const blocksHost = p.net_softnet_block.some((v) => parseSoftnetTarget(v)?.kind === 'host');
    if (p.network === 'softnet' && blocksHost && config.vm.runner_delivery === 'ssh') {
      problems.push(`${name(`/profiles/${p.name}/net_softnet_block`)}: blocks @host, but vm.runner_delivery is ssh: softnet would drop the guest's SSH replies to the Mac and no VM of ${p.name} could start its runner; set vm.runner_delivery: exec, or remove @host`);
    }
  }
  const trusted = profiles.filter((p) => p.trust === 'trusted');
  for (const u of profiles.filter((p) => p.trust === 'untrusted')) {
    // A label on both tiers lets one `runs-on` match a runner of each (core/match.ts: a job's labels
    // must be a subset of the runner's): GitHub may then hand a trusted job to an untrusted VM.
    for (const t of trusted) {
      const theirs = new Set(t.labels.map((l) => l.toLowerCase()));
      for (const label of u.labels.filter((l) => theirs.has(l.toLowerCase()))) {
        problems.push(`${name(`/profiles/${u.name}/labels`)}: "${label}" is also a label of trusted profile ${t.name}: a job with runs-on [self-hosted, ${label}] matches runners of both tiers; give each tier labels of its own`);
      }
    }
    if (u.network === 'softnet' && !u.net_softnet_allow_wide) {
      for (const v of u.net_softnet_allow) {
        const t = parseSoftnetTarget(v);
        const why = t && wideReason(t);
        if (why) {
          problems.push(`${name(`/profiles/${u.name}/net_softnet_allow`)}: ${why}, from strangers' pull requests (untrusted profile ${u.name}); allow only the global addresses the jobs need, or, if this is on purpose, set profiles.${u.name}.net_softnet_allow_wide: true`);
        }
      }
    }
    if (u.net_softnet_allow_wide) {
      warnings.push(`${name(`/profiles/${u.name}/net_softnet_allow_wide`)}: true: untrusted profile ${u.name}'s allow list is not checked; its jobs reach what it allows (${u.net_softnet_allow.join(', ') || 'nothing extra'})`);
    }
    if (u.network === 'softnet' && !u.net_softnet_block.some((v) => parseSoftnetTarget(v)?.kind === 'host')) {
      warnings.push(`${name(`/profiles/${u.name}/net_softnet_block`)}: untrusted profile ${u.name}'s guests can reach the Mac itself (softnet always allows the gateway: the Mac's sshd, Screen Sharing, file sharing, anything listening on all addresses); block it with net_softnet_block: ["@host"] (needs vm.runner_delivery: exec and a guest DNS resolver other than the gateway; SECURITY.md, "What a guest can reach")`);
    }
    const sameImage = trusted.find((t) => imageOf(t, config) === imageOf(u, config));
    if (sameImage) {
      const shared = config.vm.runner_delivery === 'ssh' && passwordGiven(env)
        ? 'admin account, SSH host key and SSH password (the daemon logs in with it; a root job there can capture it from sshd)'
        : 'admin account and SSH host key';
      warnings.push(`${name(`/profiles/${u.name}/image`)}: untrusted profile ${u.name} boots the same golden image as trusted profile ${sameImage.name} (${imageOf(u, config)}): the same ${shared} as trusted VMs; give the untrusted tier an image of its own${config.vm.runner_delivery === 'ssh' ? ' and vm.runner_delivery: exec (no SSH login at all)' : ''}`);
    }
  }
  return { problems, warnings };
}

function badTarget(value: string): string {
  const v = JSON.stringify(value.slice(0, 60));
  if (value.includes(':')) return `${v} is IPv6; softnet filters IPv4 only (it drops every other frame), so list IPv4 CIDRs like 203.0.113.0/24, or @host`;
  return `${v} is not an IPv4 CIDR (like 203.0.113.0/24 or 203.0.113.7) or @host, which is all softnet accepts`;
}

function passwordGiven(env: NodeJS.ProcessEnv): boolean {
  return Boolean(env.TART_FLEET_SSH_PASSWORD || env.TART_FLEET_SSH_PASSWORD_FILE);
}
