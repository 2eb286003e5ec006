/**
 * Test helper: a throw-away simulated Mac for the tart adapter and fake tart tests — a temp
 * TART_HOME with a golden image, the fake `tart` wrapper and the environment that selects them.
 *
 * ## Gotchas
 * - Needs dist/ (npm test builds first). The stub guest (`TART_SIM_GUEST=none`) keeps these tests
 *   independent of src/sim/guest.
 * - `cleanup()` stops every VM still running under this TART_HOME, so no `tart run` outlives a test file.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createGoldenImage, installFakeTart } from '../../src/sim/tart/install.js';
import { expect } from '@jest/globals';
import { TartError, type RunOptions, type TartErrorKind } from '../../src/core/ports.js';

const pexec = promisify(execFile);

export interface TartWorld {
  dir: string;
  home: string;
  bin: string;
  env: NodeJS.ProcessEnv;
  /** Runs the fake tart directly; never rejects. */
  tart(args: string[], extraEnv?: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }>;
  faults(f: unknown): void;
  events(): Array<Record<string, unknown>>;
  cleanup(): Promise<void>;
}

export function makeTartWorld(extraEnv: NodeJS.ProcessEnv = {}): TartWorld {
  const dir = mkdtempSync(join(tmpdir(), 'tart-test-'));
  const home = join(dir, 'home');
  const bin = installFakeTart(join(dir, 'bin'));
  createGoldenImage(home, 'gold', { cpu: 4, ramMb: 4096, os: 'darwin' });
  const env: NodeJS.ProcessEnv = { ...process.env, TART_HOME: home, TART_SIM_GUEST: 'none', TART_SIM_BOOT_MS: '100', ...extraEnv };
  const tart: TartWorld['tart'] = async (args, more = {}) => {
    try {
      const r = await pexec(bin, args, { env: { ...env, ...more } });
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (e) {
      const x = e as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof x.code === 'number' ? x.code : -1, stdout: x.stdout ?? '', stderr: x.stderr ?? '' };
    }
  };
  return {
    dir,
    home,
    bin,
    env,
    tart,
    faults: (f) => writeFileSync(join(home, '.sim', 'faults.json'), JSON.stringify(f)),
    events: () => {
      try {
        return readFileSync(join(home, '.sim', 'events.jsonl'), 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as Record<string, unknown>);
      } catch {
        return [];
      }
    },
    cleanup: async () => {
      const list = await tart(['list', '--format', 'json']);
      const vms = list.code === 0 ? (JSON.parse(list.stdout) as Array<{ Name: string; State: string }>) : [];
      await Promise.all(vms.filter((v) => v.State === 'running').map((v) => tart(['stop', v.Name, '--timeout', '2'])));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** True if a process with this pid exists and is not a zombie. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function waitFor(cond: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await sleep(50);
  }
}

/** tart run options whose cache and log live in `dir`. */
export function runOptsIn(dir: string, name: string): RunOptions {
  return { cache: { dir: join(dir, 'cache'), readOnly: false }, logFile: join(dir, 'logs', `${name}.log`), netSoftnet: false, netSoftnetAllow: [], netSoftnetBlock: [], rootDiskOpts: '' };
}

/** The TartError `p` rejects with (fails the test if it resolves or rejects with anything else). */
export async function failure(p: Promise<unknown>): Promise<TartError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(TartError);
    return e as TartError;
  }
  throw new Error('expected a TartError');
}

export async function expectKind(p: Promise<unknown>, kind: TartErrorKind): Promise<TartError> {
  const e = await failure(p);
  expect(e.kind).toBe(kind);
  return e;
}
