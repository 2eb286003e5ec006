// Builders for the planner's input: a config like the seed's on a 16 GB Mac with 4 GB reserved,
// jobs, runners and VMs, so each test states only what matters to it.
import { validateConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';
import type { Job, Runner } from '../../src/core/ports.js';
import type { Observed, OurVm, Plan } from '../../src/core/model.js';
import type { Creating, FailureCause, Remembered } from '../../src/core/memory.js';
import { plan as corePlan } from '../../src/core/plan.js';
import { parseVmName, runnerName, vmName } from '../../src/core/names.js';

export const NOW = 1_800_000_000_000;
export const HOST = 'mac-a';

export function seedConfig(overrides: { host?: Record<string, unknown>; vm?: Record<string, unknown>; profiles?: Record<string, unknown> } = {}): Config {
  const raw = {
    github: { org: 'acme', runner_name: HOST },
    host: { reserved_ram_gb: 4, total_ram_mb: 16384, ...overrides.host },
    vm: { ...overrides.vm },
    profiles: overrides.profiles ?? {
      developer: { ram_mb: 8192, cpu: 6, timeout_minutes: 60 },
      coder: { ram_mb: 2048, cpu: 2, timeout_minutes: 60 },
      marketer: { ram_mb: 5120, cpu: 4, timeout_minutes: 30 },
    },
  };
  return validateConfig(raw, 'test', { env: {}, hostname: 'test', totalMemBytes: 0 }).config;
}

let nextJobId = 1000;

export function job(profile: string, fields: Partial<Job> = {}): Job {
  const id = fields.id ?? nextJobId++;
  return {
    id, runId: id * 10, repo: 'acme/app', name: `build-${id}`, status: 'queued',
    labels: ['self-hosted', profile], createdAt: NOW - 60_000, runnerName: null, ...fields,
  };
}

let nextRunnerId = 1;

export function runner(profile: string, jobId: number, fields: Partial<Runner> & { host?: string; attempt?: number } = {}): Runner {
  const { host = HOST, attempt = 1, ...rest } = fields;
  return {
    id: nextRunnerId++, name: runnerName({ profile, jobId, attempt }),
    labels: ['self-hosted', profile, `tf-host-${host}`], status: 'offline', busy: false, everConnected: false, ...rest,
  };
}

export function vm(profile: string, jobId: number, fields: Partial<OurVm> & { attempt?: number } = {}): OurVm {
  const { attempt = 1, ...rest } = fields;
  const name = vmName(HOST, { profile, jobId, attempt });
  const ram: Record<string, number> = { developer: 8192, coder: 2048, marketer: 5120 };
  return { name, claim: parseVmName(HOST, name)!, state: 'running', ramMb: ram[profile] ?? 2048, cpu: 2, startedAt: NOW - 30_000, ...rest };
}

export function creating(profile: string, jobId: number, ramMb = 2048): Creating {
  const claim = { profile, jobId, attempt: 1 };
  return { claim, vmName: vmName(HOST, claim), runnerName: runnerName(claim), repo: 'acme/app', ramMb, os: 'macos', startedAt: NOW - 5_000 };
}

/** One tick's input: what was observed, and what the host remembers (`memory`). */
export type Scene = Observed & { memory: Remembered };

export interface SceneParts {
  jobs?: Job[];
  runners?: Runner[];
  vms?: OurVm[];
  creating?: Creating[];
  githubDown?: boolean;
  tartDown?: boolean;
  freeDiskBytes?: number;
  /** claimKey → the causes of its failed attempts so far. */
  failures?: Array<[string, FailureCause[]]>;
  processStartedAt?: number;
  admissionPausedUntil?: { until: number; reason: string };
  runnerFirstSeen?: Array<[string, number]>;
  runnerLastOnline?: Array<[string, number]>;
  vmFirstSeen?: Array<[string, number]>;
}

export function observed(parts: SceneParts = {}): Scene {
  return {
    now: NOW,
    tart: parts.tartDown ? { ok: false, error: 'tart list timed out' } : { ok: true, value: { ours: parts.vms ?? [], foreign: [] } },
    github: parts.githubDown
      ? { ok: false, error: 'HTTP 502' }
      : { ok: true, value: { jobs: parts.jobs ?? [], runners: parts.runners ?? [], stats: { requests: 1, notModified: 0, rateLimitRemaining: 5000, rateLimitReset: null, coldestRepoAgeSeconds: 0, repositories: 1, unsweptRepositories: 0, sweptRepositories: 1 } } },
    ...(parts.freeDiskBytes !== undefined ? { freeDiskBytes: parts.freeDiskBytes } : {}),
    memory: {
      processStartedAt: parts.processStartedAt ?? NOW - 3_600_000,
      creating: new Map((parts.creating ?? []).map((c) => [`${c.claim.profile}-${c.claim.jobId}`, c])),
      failures: new Map((parts.failures ?? []).map(([key, causes]) => [key, { causes, lastAt: NOW - 60_000 }])),
      runnerFirstSeen: new Map(parts.runnerFirstSeen ?? []),
      runnerLastOnline: new Map(parts.runnerLastOnline ?? []),
      vmFirstSeen: new Map(parts.vmFirstSeen ?? []),
      ...(parts.admissionPausedUntil ? { admissionPausedUntil: parts.admissionPausedUntil } : {}),
    },
  };
}

/** plan() of a scene: the world and the memory as the planner's two inputs. */
export function plan(scene: Scene, config: Config): Plan {
  const { memory, ...world } = scene;
  return corePlan(world, memory, config);
}
