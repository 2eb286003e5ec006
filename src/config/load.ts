/**
 * Loads the host configuration: pipeline.yml → yaml → TART_FLEET_* environment overrides →
 * ajv (allErrors, useDefaults, no unknown keys) against schema/pipeline.schema.json → cross-field checks.
 *
 * ## Lifecycle
 * Called once by the composition root (main.ts) per command; the result is immutable.
 *
 * ## Gotchas
 * - Every problem is collected and reported at once (ConfigError), each line naming its field, or the
 *   environment variable that set it. Values are never echoed back: a misplaced secret must not leak.
 * - Environment overrides are applied *before* validation so that ajv types and checks them exactly
 *   like the file; `envPaths` remembers which JSON pointer came from which variable.
 * - `total_ram_mb: auto` and the default `runner_name` come from the OS facts passed in, so tests and
 *   the simulated world can pin them.
 */
import { readFileSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { LineCounter, parseDocument } from 'yaml';
import { ConfigError } from './errors.js';
import { isolationProblems, lexicalProbe, problemLine } from './isolation.js';
import { untrustedReach } from './untrusted-reach.js';
import { ramCeilingMb, type Config, type Profile } from './types.js';
import { resolveGitHubAliases } from './env-aliases.js';
import { loadSchema, ENV_SETTINGS, NON_CONFIG_ENV_VARS, profileEnvSettings, type EnvSetting } from './schema.js';
import { METRICS_FILE_NAME } from './paths.js';

export interface LoadOptions {
  /** `--config` from the command line, if given. */
  path?: string;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Facts about this Mac, used for `auto` and defaults. */
  hostname: string;
  totalMemBytes: number;
}

export interface LoadedConfig {
  config: Config;
  /** Things that are allowed but probably unwise; `validate` prints them. */
  warnings: string[];
}

/** Keys that would hold a secret: never accepted in the file (they belong in the environment). */
const SECRET_KEYS: Record<string, string> = {
  token: 'TART_FLEET_GITHUB_TOKEN',
  github_token: 'TART_FLEET_GITHUB_TOKEN',
  ssh_password: 'TART_FLEET_SSH_PASSWORD',
  password: 'TART_FLEET_SSH_PASSWORD',
  private_key: 'TART_FLEET_GITHUB_APP_PRIVATE_KEY',
  app_private_key: 'TART_FLEET_GITHUB_APP_PRIVATE_KEY',
};

export function resolveConfigPath(opts: Pick<LoadOptions, 'path' | 'env' | 'cwd'>): string {
  const chosen = opts.path ?? opts.env.TART_FLEET_CONFIG ?? 'pipeline.yml';
  return resolve(opts.cwd, chosen);
}

export function loadConfig(opts: LoadOptions): LoadedConfig {
  const file = resolveConfigPath(opts);
  if (!existsSync(file)) {
    throw new ConfigError([
      `${file}: no such file (pass --config PATH, set TART_FLEET_CONFIG, or run where pipeline.yml is)`,
    ]);
  }
  const raw = parseYaml(file, readFileSync(file, 'utf8'));
  return validateConfig(raw, file, opts);
}

/** Validates an already parsed document; exported for tests and the simulated world. */
export function validateConfig(raw: unknown, source: string, opts: Omit<LoadOptions, 'path' | 'cwd'> & { cwd?: string }): LoadedConfig {
  const problems: string[] = [];
  const warnings: string[] = [];
  const doc = (isObject(raw) ? raw : {}) as Record<string, unknown>;
  if (!isObject(raw)) problems.push(`${source}: must be a YAML mapping with at least github.org and profiles`);

  findSecretKeys(doc, '', problems);
  const envPaths = applyEnvOverrides(doc, opts.env, problems);

  const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true, strictTypes: false });
  const validate = ajv.compile(loadSchema());
  if (!validate(doc)) problems.push(...formatAjvErrors(validate.errors ?? [], envPaths));
  if (problems.length > 0) throw new ConfigError(dedupe(problems));

  const config = buildConfig(doc, source, opts);
  crossFieldChecks(config, opts.env, envPaths, problems, warnings);
  if (problems.length > 0) throw new ConfigError(dedupe(problems));
  return { config, warnings };
}

function parseYaml(file: string, text: string): unknown {
  const lines = new LineCounter();
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false, lineCounter: lines });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => {
        const pos = lines.linePos(e.pos[0]);
        const where = `${file}:${pos.line}:${pos.col}`;
        // The first line of yaml's message names the problem; later lines quote the source.
        return `${where}: ${e.message.split('\n')[0]}`;
      }),
    );
  }
  return doc.toJS() ?? {};
}

function findSecretKeys(node: unknown, path: string, problems: string[]): void {
  if (!isObject(node)) return;
  for (const [key, value] of Object.entries(node)) {
    const here = path ? `${path}.${key}` : key;
    const envVar = SECRET_KEYS[key];
    if (envVar) {
      problems.push(`${here}: secrets are not read from pipeline.yml; set ${envVar} in the environment instead`);
      delete (node as Record<string, unknown>)[key];
      continue;
    }
    findSecretKeys(value, here, problems);
  }
}

/** Applies TART_FLEET_<SECTION>_<KEY> and TART_FLEET_PROFILES_<NAME>_<KEY>; returns JSON pointer → variable name for error messages. */
function applyEnvOverrides(doc: Record<string, unknown>, given: NodeJS.ProcessEnv, problems: string[]): Map<string, string> {
  const envPaths = new Map<string, string>();
  const profiles = isObject(doc.profiles) ? (doc.profiles as Record<string, unknown>) : {};
  const settings = [...ENV_SETTINGS, ...Object.keys(profiles).flatMap((name) => profileEnvSettings(name))];
  const known = new Set<string>([...settings.map((s) => s.variable), ...NON_CONFIG_ENV_VARS]);
  // GITHUB_API_URL (and GITHUB_TOKEN) are aliases; other GITHUB_<KEY> of ours are errors (env-aliases.ts).
  const aliased = resolveGitHubAliases(given, known);
  problems.push(...aliased.problems);
  const env = aliased.env;
  for (const name of Object.keys(env)) {
    if (name.startsWith('TART_FLEET_') && !known.has(name)) {
      const hint = closestName(name, [...known]);
      const profileHint = name.startsWith('TART_FLEET_PROFILES_') && !hint ? ' (profile variables exist only for profiles pipeline.yml names)' : '';
      problems.push(`${name}: unknown setting${hint ? ` (did you mean ${hint}?)` : profileHint}`);
    }
  }
  for (const setting of settings) {
    const text = env[setting.variable];
    if (text === undefined) continue;
    const parsed = parseEnvValue(setting, text);
    if ('error' in parsed) {
      problems.push(`${aliased.setBy.get(setting.variable) ?? setting.variable}: ${parsed.error}`);
      continue;
    }
    const [parent, pointer] = typeof setting.section === 'string'
      ? [doc, `/${setting.section}`] as const
      : [profiles, `/profiles/${setting.section.profile}`] as const;
    const sectionKey = typeof setting.section === 'string' ? setting.section : setting.section.profile;
    const section = isObject(parent[sectionKey]) ? (parent[sectionKey] as Record<string, unknown>) : {};
    section[setting.key] = parsed.value;
    parent[sectionKey] = section;
    envPaths.set(`${pointer}/${setting.key}`, aliased.setBy.get(setting.variable) ?? setting.variable);
  }
  return envPaths;
}

function parseEnvValue(setting: EnvSetting, text: string): { value: unknown } | { error: string } {
  const t = text.trim();
  switch (setting.kind) {
    case 'integer':
      return /^-?\d+$/.test(t) ? { value: Number(t) } : { error: 'must be an integer' };
    case 'number':
      return t !== '' && Number.isFinite(Number(t)) ? { value: Number(t) } : { error: 'must be a number' };
    case 'boolean':
      if (/^(true|1|yes)$/i.test(t)) return { value: true };
      if (/^(false|0|no)$/i.test(t)) return { value: false };
      return { error: 'must be true or false' };
    case 'auto-or-integer':
      if (t === 'auto') return { value: 'auto' };
      return /^\d+$/.test(t) ? { value: Number(t) } : { error: 'must be "auto" or an integer' };
    case 'string-list':
      return { value: t === '' ? [] : t.split(',').map((s) => s.trim()).filter((s) => s !== '') };
    case 'string':
      return { value: text };
  }
}

function formatAjvErrors(errors: ErrorObject[], envPaths: Map<string, string>): string[] {
  // anyOf failures also report each branch; keep only the anyOf line, which carries a description.
  const anyOfPaths = new Set(errors.filter((e) => e.keyword === 'anyOf').map((e) => e.instancePath));
  const lines: string[] = [];
  for (const e of errors) {
    if (e.keyword !== 'anyOf' && anyOfPaths.has(e.instancePath)) continue;
    // propertyNames reports the failing name's pattern separately; the propertyNames line names it.
    if (e.schemaPath.includes('/propertyNames/')) continue;
    let path = e.instancePath;
    let message: string;
    switch (e.keyword) {
      case 'additionalProperties':
        path = `${path}/${String(e.params.additionalProperty)}`;
        message = 'unknown key';
        break;
      case 'required':
        path = `${path}/${String(e.params.missingProperty)}`;
        message = 'is required';
        break;
      case 'propertyNames':
        path = `${path}/${String(e.params.propertyName)}`;
        message = 'profile names are lower case words joined by "-" (each word starts with a letter), at most 40 characters (runner names are limited to 64)';
        break;
      case 'pattern':
        message = `has an invalid format${describe(e)}`;
        break;
      case 'anyOf':
        message = describe(e).replace(/^ \((.*)\)$/, '$1') || 'has an invalid value';
        break;
      case 'minProperties':
        message = path === '/profiles' ? 'needs at least one profile' : 'must not be empty';
        break;
      case 'type':
        // A key with two forms (host.max_vms_per_repo: a number or a map by tier) says both.
        message = Array.isArray(e.params.type) ? 'must be an integer, or a map by trust tier like {trusted: 4, untrusted: 1}' : e.message ?? 'is invalid';
        break;
      case 'enum':
        message = `must be one of ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
        break;
      default:
        message = e.message ?? 'is invalid';
    }
    if (e.keyword === 'propertyNames' && e.params.propertyName === undefined) continue;
    const variable = envPaths.get(path);
    lines.push(`${variable ?? pointerToField(path)}: ${message}`);
  }
  return lines;
}

function describe(e: ErrorObject): string {
  const d = (e.parentSchema as { description?: string } | undefined)?.description;
  return d ? ` (${d})` : '';
}

function pointerToField(pointer: string): string {
  const field = pointer.split('/').filter((p) => p !== '').join('.');
  return field === '' ? '(top level)' : field;
}

function buildConfig(doc: Record<string, unknown>, source: string, opts: Pick<LoadOptions, 'hostname' | 'totalMemBytes'> & { cwd?: string }): Config {
  // ajv has validated the shape and filled every default, so these casts are sound.
  const d = doc as unknown as Omit<Config, 'source' | 'profiles' | 'host'> & {
    profiles: Record<string, Partial<Profile> & Pick<Profile, 'ram_mb' | 'cpu' | 'timeout_minutes' | 'labels' | 'os'>>;
    host: Omit<Config['host'], 'total_ram_mb' | 'state_dir' | 'metrics_file'> & { total_ram_mb: number | 'auto'; state_dir?: string; metrics_file?: string };
  };
  const totalRam = d.host.total_ram_mb === 'auto' ? Math.floor(opts.totalMemBytes / (1024 * 1024)) : d.host.total_ram_mb;
  const base = opts.cwd ?? process.cwd();
  const logDir = resolve(base, d.host.log_dir);
  const stateDir = d.host.state_dir ? resolve(base, d.host.state_dir) : join(dirname(logDir), 'state');
  const host = {
    ...d.host,
    total_ram_mb: totalRam,
    cache_dir: resolve(base, d.host.cache_dir),
    log_dir: logDir,
    state_dir: stateDir,
    metrics_file: d.host.metrics_file ? resolve(base, d.host.metrics_file) : join(stateDir, METRICS_FILE_NAME),
  };
  const profiles: Record<string, Profile> = {};
  for (const [name, p] of Object.entries(d.profiles)) {
    const trust = p.trust ?? 'trusted';
    const allow = p.net_softnet_allow ?? d.vm.net_softnet_allow;
    const block = p.net_softnet_block ?? d.vm.net_softnet_block;
    // tart treats an allow or block list as --net-softnet, so a list means softnet here too.
    const softnetByDefault = trust === 'untrusted' || d.vm.net_softnet || allow.length > 0 || block.length > 0;
    profiles[name] = {
      ...p,
      name,
      trust,
      runner_group_id: p.runner_group_id ?? d.github.runner_group_id,
      cache: p.cache ?? (trust === 'untrusted' ? 'none' : 'rw'),
      cache_dir: p.cache_dir ? resolve(base, p.cache_dir) : host.cache_dir,
      network: p.network ?? (softnetByDefault ? 'softnet' : 'nat'),
      net_softnet_allow: allow,
      net_softnet_block: block,
      net_softnet_allow_wide: p.net_softnet_allow_wide ?? false,
    };
  }
  return {
    github: { ...d.github, runner_name: d.github.runner_name ?? defaultRunnerName(opts.hostname) },
    host,
    vm: d.vm,
    profiles,
    source,
  };
}

/** `Mac-mini-A.local` → `mac-mini-a`: the short host name, made valid for VM and label names. */
export function defaultRunnerName(hostname: string): string {
  const short = hostname.split('.')[0] ?? '';
  const cleaned = short.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40);
  return cleaned === '' ? 'mac' : cleaned;
}

function crossFieldChecks(config: Config, env: NodeJS.ProcessEnv, envPaths: Map<string, string>, problems: string[], warnings: string[]): void {
  const name = (pointer: string) => envPaths.get(pointer) ?? pointerToField(pointer);
  const ceiling = ramCeilingMb(config.host);
  const ceilingText = `${config.host.total_ram_mb} MB total - ${config.host.reserved_ram_gb} GB reserved`;
  if (ceiling < 512) {
    problems.push(`${name('/host/reserved_ram_gb')}: leaves ${ceiling} MB for VMs (${ceilingText}); no profile can run`);
  }
  const profileNames = new Set(Object.keys(config.profiles).map((n) => n.toLowerCase()));
  for (const p of Object.values(config.profiles)) {
    if (ceiling >= 512 && p.ram_mb > ceiling) {
      problems.push(`profiles.${p.name}.ram_mb: ${p.ram_mb} MB is more than the VM RAM ceiling of ${ceiling} MB (${ceilingText})`);
    }
    for (const label of p.labels) {
      const l = label.toLowerCase();
      if (l === 'self-hosted' || l.startsWith('tf-host-')) {
        problems.push(`profiles.${p.name}.labels: "${label}" is added by tart-fleet itself`);
      } else if (profileNames.has(l) && l !== p.name) {
        problems.push(`profiles.${p.name}.labels: "${label}" is another profile's name; its jobs could land on ${p.name} VMs`);
      }
    }
  }
  trustTierChecks(config, env, name, problems, warnings);
  // Softnet lists parsed as softnet would; what the untrusted tier reaches and shares (untrusted-reach.ts).
  const reach = untrustedReach(config, env, name);
  problems.push(...reach.problems);
  warnings.push(...reach.warnings);
  apiUrlChecks(config, name, problems);
  if (config.github.hook_id !== undefined && config.github.app_hook) {
    problems.push(`${name('/github/app_hook')}: set either github.hook_id (an org webhook) or github.app_hook (the GitHub App's own webhook), not both: the event feed reads one delivery log`);
  }
  if (config.host.poll_seconds < 10) {
    warnings.push(`${name('/host/poll_seconds')}: ${config.host.poll_seconds} s polls GitHub often; 10 s or more keeps a large org within its rate limit`);
  }
  if (config.host.max_vms > 2 && Object.values(config.profiles).some((p) => p.os === 'macos')) {
    warnings.push(`${name('/host/max_vms')}: ${config.host.max_vms} macOS guests exceeds Apple's licence (2 per Mac) and Virtualization.framework's limit`);
  }
}

/**
 * `https://user:pass@host` is refused: the URL is logged in error messages (undici quotes it when it
 * refuses a URL with credentials) and copied into the launchd plist, so a password in it would leak.
 * The value is never echoed back, only the field that holds it.
 */
function apiUrlChecks(config: Config, name: (pointer: string) => string, problems: string[]): void {
  let url: URL;
  try {
    url = new URL(config.github.api_url);
  } catch {
    problems.push(`${name('/github/api_url')}: is not a valid URL (expected https://HOST or https://HOST/api/v3)`);
    return;
  }
  if (url.username !== '' || url.password !== '') {
    problems.push(`${name('/github/api_url')}: contains a user name or password (user:password@); remove it: tart-fleet authenticates with the GitHub App or token, and credentials in the URL would be logged`);
  }
  // The org's runner-admin token rides on every request: plain http only where it never leaves the Mac.
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
    problems.push(`${name('/github/api_url')}: is plain http:// to ${url.hostname}; the GitHub token would cross the network in clear text: use https:// (plain http is accepted for localhost / 127.0.0.1 / [::1] only)`);
  }
}

/**
 * Tiers are kept apart by things a pull request cannot edit: a runner group and a cache directory
 * each tier owns. Sharing either between a trusted and an untrusted profile defeats the tiers, so
 * it is an error; unwise but self-contained untrusted settings are warnings.
 */
function trustTierChecks(config: Config, env: NodeJS.ProcessEnv, name: (pointer: string) => string, problems: string[], warnings: string[]): void {
  const profiles = Object.values(config.profiles);
  const trusted = profiles.filter((p) => p.trust === 'trusted');
  for (const u of profiles.filter((p) => p.trust === 'untrusted')) {
    const field = (key: string) => name(`/profiles/${u.name}/${key}`);
    const sameGroup = trusted.find((t) => t.runner_group_id === u.runner_group_id);
    if (sameGroup) {
      problems.push(`${field('runner_group_id')}: untrusted profile ${u.name} uses runner group ${u.runner_group_id}, like trusted profile ${sameGroup.name}; GitHub routes any job of a group to any of its runners, so give the untrusted tier a group of its own`);
    }
    if (u.cache === 'rw') {
      warnings.push(`${field('cache')}: rw lets one untrusted job plant files that later untrusted jobs run; ro, clone or none keep jobs apart`);
    }
    if (u.network === 'nat') {
      warnings.push(`${field('network')}: nat lets a root job answer for its neighbour VM's address (ARP spoofing); softnet prevents it`);
    }
  }
  // Cache dirs of different tiers, and the daemon's own paths, by resolved path (nested either way,
  // letter case folded); validate and run repeat this on the real file system (isolation.ts).
  problems.push(...isolationProblems(config, env, lexicalProbe, name).map(problemLine));
  for (const p of profiles) {
    // tart reads the last ':'-segment of --dir for options: a path ending in ",ro" or ",tag=x" would be misread.
    const last = p.cache_dir.split(':').pop() ?? '';
    if (/,(ro|tag=)/.test(last)) {
      problems.push(`${name(`/profiles/${p.name}/cache_dir`)}: ${p.cache_dir} ends in a tart --dir option (",ro" or ",tag="); rename the directory`);
    }
  }
}

/** localhost, 127.0.0.0/8 and ::1: the only hosts plain http may reach. */
function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

function closestName(name: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 4;
  for (const c of candidates) {
    const d = editDistance(name, c);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function dedupe(lines: string[]): string[] {
  return [...new Set(lines)];
}
