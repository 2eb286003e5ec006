/**
 * `tart-fleet selftest --as-daemon`: asks the running daemon to run its boot proof again
 * (daemon/boot-proof.ts) and prints the answer. The proof runs inside the daemon's own process, so
 * in its launchd context — its user, its keychain, its Local Network privacy standing — which is
 * the only place where the answer means anything: a Terminal or SSH shell has its own login
 * keychain and is exempt from Local Network privacy, so a plain `selftest` there proves nothing
 * about launchd (audits/turn4-macos-daemon.md §5).
 *
 * ## Lifecycle
 * Writes `<state_dir>/boot-proof.request` (`{id}`, 0600) → the daemon picks it up within a second,
 * deletes it, runs the proof and writes `<state_dir>/boot-proof.json` with `request_id: id` → this
 * prints one block per image and exits 0 when every image passed, 1 otherwise, 3 when no daemon
 * answered in time (none running, or another state dir).
 *
 * ## Gotchas
 * - It waits up to `vm.boot_timeout_seconds` per image plus a minute; a daemon busy with its own
 *   start-up proof answers the request once that one has ended.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { imagesOf, readBootProof } from '../daemon/boot-proof.js';
import { writeFileAtomic } from '../adapters/atomic-write.js';
import { renderImageProof } from './boot-proof-view.js';
import { loadForCommand } from './config.js';
import { println, type CliContext } from './context.js';
import { statePaths } from '../config/paths.js';

export const EXIT_NO_DAEMON = 3;

export async function selftestAsDaemon(ctx: CliContext, opts: { config?: string; sleep?: (ms: number) => Promise<void> }): Promise<number> {
  const { config } = loadForCommand(ctx, opts.config);
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const dir = config.host.state_dir;
  const id = randomBytes(8).toString('hex');
  const request = statePaths(config.host).bootProofRequest;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileAtomic(request, `${JSON.stringify({ id })}\n`, 0o600);
  const waitMs = (imagesOf(config).length * config.vm.boot_timeout_seconds + 60) * 1000;
  println(ctx.stdout, `asked the daemon (state dir ${dir}) to boot ${imagesOf(config).join(', ')} in its own context; waiting up to ${Math.round(waitMs / 1000)} s`);
  const until = Date.now() + waitMs;
  while (Date.now() < until) {
    const report = readBootProof(dir);
    if (report && report.request_id === id && !report.running) {
      const images = Object.values(report.images);
      println(ctx.stdout, `boot proof by daemon pid ${report.daemon_pid} (uid ${report.uid ?? '?'}) at ${report.written_at}:`);
      for (const p of images) for (const line of renderImageProof(p)) println(ctx.stdout, line);
      return images.every((p) => p.status === 'passed' && Object.keys(p.profiles).length === 0) ? 0 : 1;
    }
    await sleep(500);
  }
  rmSync(request, { force: true });
  println(ctx.stderr, `no daemon answered within ${Math.round(waitMs / 1000)} s: is it running on this state dir (tart-fleet launchd --status)? A proof from this shell would prove nothing about launchd.`);
  return EXIT_NO_DAEMON;
}
