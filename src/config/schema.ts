/**
 * The JSON schema of pipeline.yml (schema/pipeline.schema.json) and the TART_FLEET_* environment
 * settings derived from it: one variable per scalar (or string list) key of github/host/vm.
 *
 * ## Gotchas
 * - The schema file is read from the package root, so it works from src/ (jest) and dist/ (the bin).
 * - Profiles are a map, so their variables exist only for the profiles the file names:
 *   `TART_FLEET_PROFILES_<NAME>_<KEY>` (name upper-cased, `-` as `_`), e.g. TART_FLEET_PROFILES_CODER_TRUST.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from './package.js';

export type EnvKind = 'string' | 'integer' | 'number' | 'boolean' | 'auto-or-integer' | 'string-list';

export interface EnvSetting {
  variable: string;
  /** Where the value goes: a section of the file, or one profile (`profiles.<name>`). */
  section: 'github' | 'host' | 'vm' | { profile: string };
  key: string;
  kind: EnvKind;
}

/**
 * Variables that are not config-file overrides (secrets, and process settings read by the commands):
 * the env-override reader skips them. Which of them hold secrets is secrets/secret-files.ts's list.
 */
export const NON_CONFIG_ENV_VARS = [
  'TART_FLEET_CONFIG',
  'TART_FLEET_GITHUB_TOKEN',
  'TART_FLEET_GITHUB_TOKEN_FILE',
  'TART_FLEET_GITHUB_APP_ID',
  'TART_FLEET_GITHUB_APP_INSTALLATION_ID',
  'TART_FLEET_GITHUB_APP_PRIVATE_KEY',
  'TART_FLEET_SSH_PASSWORD',
  'TART_FLEET_SSH_PASSWORD_FILE',
  'TART_FLEET_TART_BIN',
  'TART_FLEET_LOG_LEVEL',
] as const;

let cached: Record<string, unknown> | undefined;

export function loadSchema(): Record<string, unknown> {
  cached ??= JSON.parse(readFileSync(join(PACKAGE_ROOT, 'schema', 'pipeline.schema.json'), 'utf8')) as Record<string, unknown>;
  // ajv mutates nothing in the schema, but hand out a copy so callers cannot either.
  return structuredClone(cached);
}

interface PropertySchema {
  type?: string | string[];
  enum?: unknown[];
  anyOf?: unknown[];
  items?: { type?: string };
}

function kindOf(p: PropertySchema): EnvKind | undefined {
  if (p.anyOf) return 'auto-or-integer';
  // A key with a scalar form and a map form (host.max_vms_per_repo): the environment sets the scalar.
  if (Array.isArray(p.type)) return p.type.includes('integer') ? 'integer' : undefined;
  switch (p.type) {
    case undefined:
      return p.enum?.every((v) => typeof v === 'string') ? 'string' : undefined;
    case 'string':
    case 'integer':
    case 'number':
    case 'boolean':
      return p.type;
    case 'array':
      return p.items?.type === 'string' ? 'string-list' : undefined;
    default:
      return undefined;
  }
}

function deriveEnvSettings(): EnvSetting[] {
  const schema = loadSchema() as { properties: Record<string, { properties: Record<string, PropertySchema> }> };
  const settings: EnvSetting[] = [];
  for (const section of ['github', 'host', 'vm'] as const) {
    for (const [key, prop] of Object.entries(schema.properties[section]!.properties)) {
      const kind = kindOf(prop);
      if (kind) settings.push({ variable: `TART_FLEET_${section}_${key}`.toUpperCase(), section, key, kind });
    }
  }
  return settings;
}

export const ENV_SETTINGS: readonly EnvSetting[] = deriveEnvSettings();

/** The variables that set one profile's scalar keys (the ones the environment can express). */
export function profileEnvSettings(profile: string): EnvSetting[] {
  const schema = loadSchema() as { properties: { profiles: { additionalProperties: { properties: Record<string, PropertySchema> } } } };
  const settings: EnvSetting[] = [];
  const stem = `TART_FLEET_PROFILES_${profile.toUpperCase().replace(/-/g, '_')}`;
  for (const [key, prop] of Object.entries(schema.properties.profiles.additionalProperties.properties)) {
    const kind = kindOf(prop);
    if (kind) settings.push({ variable: `${stem}_${key.toUpperCase()}`, section: { profile }, key, kind });
  }
  return settings;
}
