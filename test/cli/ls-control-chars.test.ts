// `ls` prints names that come from GitHub (repositories, job labels inside "no profile matches [...]",
// runner names): whoever writes a workflow chooses them. The audit (turn4-security N11, e9) got a job
// labelled with OSC 52 (clipboard write) and CSI 2J (clear screen) through to `ls` stdout intact;
// whether GitHub passes control characters in labels is inferred, so the renderer must not trust it.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { lsCommand } from '../../src/cli/ls.js';
import type { CliContext } from '../../src/cli/context.js';
import { terminalSafe } from '../../src/cli/render.js';
import { writeSnapshot, type StatusSnapshot } from '../../src/status/snapshot.js';

const HOSTILE = 'x\x1b]52;c;cm0gLXJmIH4K\x07\x1b[2J\x1b[H\u202egnp.exe\x9b31m';

function sink(): { stream: Writable & { isTTY: boolean; columns: number }; text: () => string } {
  let text = '';
  const stream = Object.assign(new Writable({ write(chunk, _e, cb) { text += String(chunk); cb(); } }), { isTTY: false, columns: 200 });
  return { stream, text: () => text };
}

test('labels, repository and runner names from GitHub reach the terminal without control characters', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tf-ls-ctl-'));
  const now = new Date().toISOString();
  const snapshot: StatusSnapshot = {
    schema: 1, runner_name: 'mac-a', version: '0.1.0', daemon_pid: process.pid, tick: 7, poll_seconds: 15,
    written_at: now, observed_at: now, stale_after: new Date(Date.now() + 60_000).toISOString(),
    ledger: { used_mb: 0, ceiling_mb: 12288, vms: 0, max_vms: 2, foreign_mb: 0 },
    vms: [{ name: 'tf-mac-a-coder-1', profile: 'coder', state: 'running', repo: `acme/${HOSTILE}`, job_id: 1, age_s: 3, ram_mb: 4096, cpu: 2, ip: null, runner_status: HOSTILE }],
    queue: [{ repo: `acme/${HOSTILE}`, job_id: 2, name: HOSTILE, profile: null, labels: [HOSTILE], waiting_s: 5, reason: `no profile matches [${HOSTILE}]` }],
    creating: [], problems: [`runner ${HOSTILE} is offline`],
    github: { requests: 1, not_modified: 1, rate_limit_remaining: 4999, rate_limit_reset: null, coldest_repo_age_s: 0, repositories: 1, unswept_repositories: 0 },
    github_budget: null,
    last_tick: { ok: true, failures: [], degraded: [], duration_ms: 10, admitted: 0, deleted_vms: 0, deleted_runners: 0 },
    last_ok_tick_at: now,
    give_ups: [{ profile: 'coder', job_id: 3, repo: `acme/${HOSTILE}`, attempts: 3, reason: 'boot failed', since_s: 1 }],
  } as unknown as StatusSnapshot;
  writeSnapshot(dir, snapshot);
  const out = sink();
  const err = sink();
  const ctx: CliContext = { env: {}, cwd: dir, stdout: out.stream, stderr: err.stream, hostname: 'h', totalMemBytes: 1 };
  await lsCommand(ctx, { stateDir: dir });
  const printed = out.text() + err.text();
  expect(printed).toContain('no profile matches');
  expect(printed).toContain('gave up on 1 job(s)');
  // Nothing but newlines below 0x20, no DEL/C1, no bidi override: no escape sequence can start.
  // eslint-disable-next-line no-control-regex
  expect(printed.replace(/\n/g, '')).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
  // The text around the controls is still shown, so the operator sees something is odd.
  expect(printed).toContain('gnp.exe');
});

test('terminalSafe keeps newlines in lines and not in cells', () => {
  expect(terminalSafe('a\nb\x1b[2Jc')).toBe('a\nb?[2Jc');
  expect(terminalSafe('a\nb\tc', true)).toBe('a?b?c');
});
