/**
 * The validated configuration of one tart-fleet host, as `schema/pipeline.schema.json` describes it
 * after defaults are filled in and environment overrides applied (see load.ts).
 *
 * ## Gotchas
 * - `host.total_ram_mb` is resolved from "auto" to a number at load time, so the core never asks the OS.
 * - Secrets are not part of this object: they stay in the environment until an adapter needs them.
 */

export type GuestOs = 'macos' | 'linux';

/** Who may send this profile jobs: `untrusted` = strangers' pull requests (SECURITY.md). */
export type Trust = 'trusted' | 'untrusted';

/**
 * How a profile's VMs see the cache: `rw` shared read-write, `ro` shared read-only, `none` no share,
 * `clone` a throw-away per-job copy made on the host before boot and deleted with the VM.
 */
export type CacheMode = 'rw' | 'ro' | 'none' | 'clone';

export type Network = 'nat' | 'softnet';

export interface Profile {
  name: string;
  ram_mb: number;
  cpu: number;
  timeout_minutes: number;
  image?: string;
  labels: string[];
  os: GuestOs;
  // The trust tier and what it decides; load.ts fills each from its tier's default.
  trust: Trust;
  runner_group_id: number;
  cache: CacheMode;
  /** Absolute path. */
  cache_dir: string;
  network: Network;
  net_softnet_allow: string[];
  net_softnet_block: string[];
  /**
   * The operator's statement that an untrusted profile's allow list reaches non-global addresses
   * (the LAN, the Mac, 0.0.0.0/0) on purpose; without it such a list is a config error
   * (config/untrusted-reach.ts). Default false.
   */
  net_softnet_allow_wide: boolean;
}

export interface GitHubSettings {
  org: string;
  runner_name: string;
  api_url: string;
  runner_group_id: number;
  repositories: string[];
  max_requests_per_minute: number;
  /** The event feed: an org webhook whose deliveries are polled (docs/event-feed.md). */
  hook_id?: number;
  /** The event feed with App auth: the App's own webhook. */
  app_hook: boolean;
}

export interface HostSettings {
  reserved_ram_gb: number;
  total_ram_mb: number;
  max_vms: number;
  /** Creations under way at once (claim → runner started); see core/ledger.ts. */
  max_concurrent_boots: number;
  poll_seconds: number;
  cache_dir: string;
  log_dir: string;
  vm_log_retention_hours: number;
  backfill_max_wait_seconds: number;
  /** Absolute path; status snapshot, metrics, persisted give-ups. */
  state_dir: string;
  /** One cap for every tier, or a cap per trust tier (a tier left out has none); see repoCapFor. */
  max_vms_per_repo?: number | Partial<Record<Trust, number>>;
  min_free_disk_gb: number;
  cache_max_gb?: number;
  /** Absolute path. */
  metrics_file: string;
  metrics_port?: number;
}

export interface VmSettings {
  image: string;
  ssh_user: string;
  ssh_port: number;
  ssh_private_key_path?: string;
  ssh_host_key: string;
  runner_command: string;
  boot_timeout_seconds: number;
  registration_timeout_seconds: number;
  max_boot_attempts: number;
  random_mac: boolean;
  net_softnet: boolean;
  net_softnet_allow: string[];
  net_softnet_block: string[];
  root_disk_opts: string;
  /** `ssh` falls back to `exec` when the boot proof finds SSH blocked; `ssh-only` and `exec` pin one. */
  runner_delivery: 'ssh' | 'ssh-only' | 'exec';
  /** Boot each image once at start from the daemon's context; gate its profiles on the result. */
  boot_proof: boolean;
}

export interface Config {
  github: GitHubSettings;
  host: HostSettings;
  vm: VmSettings;
  /** Keyed by profile name; each entry repeats its own name. */
  profiles: Record<string, Profile>;
  /** Where the file came from, for messages. */
  source: string;
}

/** The golden image a profile's VMs are cloned from: its own `image`, else `vm.image`. */
export function imageOf(profile: Profile, config: Config): string {
  return profile.image ?? config.vm.image;
}

/** Every golden image the config names (`vm.image` always, even when each profile has its own). */
export function goldenImages(config: Config): Set<string> {
  return new Set([config.vm.image, ...Object.values(config.profiles).map((p) => imageOf(p, config))]);
}

/** The VM RAM ceiling: the Mac's RAM minus what is reserved for macOS itself. */
export function ramCeilingMb(host: HostSettings): number {
  return Math.max(0, Math.floor(host.total_ram_mb - host.reserved_ram_gb * 1024));
}

/**
 * The fair-share cap for one repository's VMs of one trust tier: `host.max_vms_per_repo` as a number
 * caps all of a repository's VMs together (tier undefined in the answer: count every tier); as a map
 * it caps each tier separately. Undefined cap: no cap.
 */
export function repoCapFor(host: HostSettings, trust: Trust): { cap: number; tier: Trust | undefined } | undefined {
  const setting = host.max_vms_per_repo;
  if (setting === undefined) return undefined;
  if (typeof setting === 'number') return { cap: setting, tier: undefined };
  const cap = setting[trust];
  return cap === undefined ? undefined : { cap, tier: trust };
}
