/**
 * `tart-fleet validate`: the doctor. Checks the configuration, the secrets, the directories and the
 * prerequisites (tart, golden images, disk, GitHub, guest SSH, macOS settings), one line each
 * (`ok`, `warn` or `FAIL`, each FAIL with its fix), then a summary; exits 0 only when nothing
 * failed. `--json` prints the same as one JSON document. A config error exits 2 with one line per
 * problem (thrown as ConfigError by the loader): without a config there is nothing to check against.
 *
 * ## Gotchas
 * - No side effects: nothing is created or written (directories are judged by their parent), and
 *   GitHub is only read (prerequisites.ts).
 * - Every check runs: a secret file that cannot be read is one FAIL, and the checks after it run
 *   without that secret (they then say "no credentials", which is true).
 * - GitHub gets one short attempt per request (GITHUB_PROBE_MS) instead of the daemon's patient
 *   retries, so a dead network costs seconds and its FAIL says what to look at. Before that, one
 *   unauthenticated GET of `github.api_url` checks that anything answers at all, and answers
 *   like the GitHub API (JSON, not a web page: github-diagnosis.ts): not every GitHub
 *   request of the checks carries the short timeout (the access report's do not), so with no answer
 *   the GitHub checks are reported as not run rather than left to hang.
 * - Progress ("checking …") goes to stderr, and only on a TTY: stdout stays the report.
 */
import { ramCeilingMb } from '../config/types.js';
import { isolationChecks, stateDirCheck } from './isolation-checks.js';
import { expandSecretFilesTolerant } from '../secrets/secret-files.js';
import { countChecks, formatCheck, summaryLine, writableDirCheck, type CheckResult } from './checks.js';
import { loadForCommand } from './config.js';
import { isTTY, platformOf, println, type CliContext } from './context.js';
import { API_URL_FIX, notLikeGitHubApi } from './github-diagnosis.js';
import { networkChecks } from './network-checks.js';

/** One attempt per GitHub request, at most this long: a doctor should answer in seconds. */
export const GITHUB_PROBE_MS = 10_000;

const TART_ADVICE = 'brew install cirruslabs/cli/tart';

export interface ValidateOptions {
  config?: string;
  configOnly?: boolean;
  json?: boolean;
}

export async function validateCommand(ctx: CliContext, opts: ValidateOptions): Promise<number> {
  const { config, warnings } = loadForCommand(ctx, opts.config);
  const results: CheckResult[] = [];
  const profiles = Object.values(config.profiles);
  results.push({
    status: 'ok',
    what: 'config',
    detail: `${config.source}: org ${config.github.org}, runner_name ${config.github.runner_name}, ${profiles.length} profile(s) (${profiles.map((p) => `${p.name} ${p.ram_mb} MB/${p.cpu} CPU/${p.timeout_minutes} min`).join(', ')})`,
  });
  results.push({
    status: 'ok',
    what: 'ram ceiling',
    detail: `${ramCeilingMb(config.host)} MB for VMs (${config.host.total_ram_mb} MB total - ${config.host.reserved_ram_gb} GB reserved), at most ${config.host.max_vms} macOS VMs`,
  });
  for (const w of warnings) results.push({ status: 'warn', what: 'config', detail: w });
  results.push(...isolationChecks(config, ctx.env));

  const secrets = expandSecretFilesTolerant(ctx.env);
  for (const p of secrets.problems) results.push({ status: 'fail', what: 'secret', detail: p.message, fix: secretFix(p.variable, p.message) });

  results.push(writableDirCheck('cache dir', config.host.cache_dir));
  results.push(writableDirCheck('log dir', config.host.log_dir));
  results.push(stateDirCheck(config.host.state_dir));

  const platform = platformOf(ctx);
  if (platform !== 'darwin') {
    results.push({ status: 'warn', what: 'platform', detail: `not macOS (${platform}): \`run\` needs a Mac with tart; \`tart-fleet demo\` runs the simulated world here` });
  }

  if (!opts.configOnly) {
    if (isTTY(ctx.stderr) && !opts.json) println(ctx.stderr, `checking tart, the golden images and GitHub (up to ${GITHUB_PROBE_MS / 1000} s per request)…`);
    // Loaded on demand: --config-only never loads the adapters.
    const { prerequisiteChecks } = await import('./prerequisites.js');
    let env = secrets.env;
    // Without credentials no check talks to GitHub (the "no GitHub credentials" line says so).
    const hasCredentials = GITHUB_CREDENTIAL_VARS.some((v) => (env[v] ?? '').trim() !== '');
    results.push(...networkChecks(env, config.github.api_url));
    const answer = hasCredentials ? await probeApiUrl(config.github.api_url) : {};
    const unreachable = answer.unreachable ?? answer.notGitHub;
    if (unreachable) {
      const fix = answer.notGitHub ? API_URL_FIX : networkFix(unreachable) ?? 'check the network and github.api_url';
      results.push({ status: 'fail', what: 'github', detail: `${config.github.api_url}: ${unreachable}; token and runner group not checked`, fix });
      // Without credentials the checks below make no GitHub request; their "no credentials" line is dropped.
      env = { ...env };
      for (const v of GITHUB_CREDENTIAL_VARS) delete env[v];
    }
    const probeCtx: CliContext = { ...ctx, env, githubProbeTimeoutMs: GITHUB_PROBE_MS };
    const found = (await prerequisiteChecks(probeCtx, config)).map(withHints);
    results.push(...(unreachable ? found.filter((r) => !(r.what === 'github' && /no GitHub credentials/.test(r.detail))) : found));
  }

  const counts = countChecks(results);
  if (opts.json) {
    const doc = { schema_version: 1, ok: counts.fail === 0, counts, platform, config_only: Boolean(opts.configOnly), checks: results };
    println(ctx.stdout, JSON.stringify(doc, null, 2));
  } else {
    for (const r of results) println(ctx.stdout, formatCheck(r));
    println(ctx.stdout, summaryLine(counts));
  }
  return counts.fail > 0 ? 1 : 0;
}

const GITHUB_CREDENTIAL_VARS = ['TART_FLEET_GITHUB_TOKEN', 'GITHUB_TOKEN', 'TART_FLEET_GITHUB_APP_ID', 'TART_FLEET_GITHUB_APP_INSTALLATION_ID', 'TART_FLEET_GITHUB_APP_PRIVATE_KEY'];

/**
 * One unauthenticated GET of `apiUrl` within GITHUB_PROBE_MS, through the daemon's own transport
 * (so the proxy and CA settings it will use are the ones tried): `unreachable` when nothing answers,
 * `notGitHub` when the answer is not the API's JSON (a web page); empty when it looks like GitHub.
 */
async function probeApiUrl(apiUrl: string): Promise<{ unreachable?: string; notGitHub?: string }> {
  const { githubFetch } = await import('../adapters/github-transport.js');
  try {
    const res = await githubFetch(GITHUB_PROBE_MS)(apiUrl);
    const notGitHub = notLikeGitHubApi(res.status, res.headers.get('content-type'));
    return notGitHub ? { notGitHub } : {};
  } catch (err) {
    const e = err as Error & { code?: string };
    if (/timeout/i.test(e.message)) return { unreachable: `no answer within ${GITHUB_PROBE_MS / 1000} s (timeout)` };
    return { unreachable: `cannot connect (${e.code ?? e.message})` };
  }
}

function secretFix(variable: string, message: string): string {
  if (/chmod 600/.test(message)) return 'make it readable by its owner only (the message names the file)';
  if (/both set/.test(message)) return `unset ${variable} or ${variable}_FILE`;
  return `point ${variable} at a readable file holding the secret (chmod 600), or unset it`;
}

/** Adds what to do to lines that describe a symptom only; says each piece of advice once. */
function withHints(r: CheckResult): CheckResult {
  if (r.status === 'ok') return r;
  let detail = r.detail;
  // The tart error already carries the install advice; prerequisites.ts appends it once more.
  if (detail.split(TART_ADVICE).length > 2) detail = detail.replace(` (install it: ${TART_ADVICE})`, '');
  if (r.what === 'github' && r.status === 'fail' && detail.trim() === '') {
    return { ...r, detail: 'GitHub answered with an error and no message', fix: 'check github.api_url (https://HOST/api/v3 for GitHub Enterprise Server) and github.org' };
  }
  if (r.what === 'github' && r.status === 'fail' && !r.fix) {
    const fix = networkFix(detail);
    if (fix) return { ...r, detail, fix };
  }
  if (r.what === 'github' && /no GitHub credentials/.test(detail) && !/_FILE/.test(detail)) {
    return { ...r, detail, fix: 'or give the token as a file: TART_FLEET_GITHUB_TOKEN_FILE=<path> (chmod 600)' };
  }
  if (r.what === 'guest ssh' && /no SSH credentials/.test(detail) && !/_FILE/.test(detail)) {
    return { ...r, detail, fix: 'or give the password as a file: TART_FLEET_SSH_PASSWORD_FILE=<path> (chmod 600)' };
  }
  return { ...r, detail };
}

/** A network-level failure named for what it is, with where to look. */
function networkFix(detail: string): string | undefined {
  if (/timeout|timed out|aborted|ETIMEDOUT/i.test(detail)) {
    return `GitHub did not answer in ${GITHUB_PROBE_MS / 1000} s: check the network, the proxy (HTTPS_PROXY, NO_PROXY) and github.api_url`;
  }
  if (/ENOTFOUND|EAI_AGAIN|getaddrinfo/i.test(detail)) return 'the API host name does not resolve: check DNS, or set HTTPS_PROXY if this network reaches GitHub only through a proxy, and github.api_url';
  if (/ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENETUNREACH|fetch failed|socket|bad port/i.test(detail)) {
    return 'cannot reach the GitHub API: check the network, the proxy (HTTPS_PROXY, NO_PROXY) and github.api_url';
  }
  if (/certificate|TLS|SSL/i.test(detail)) return 'the TLS handshake failed: a private CA (GitHub Enterprise Server, a TLS-inspecting proxy) must be in the PEM file NODE_EXTRA_CA_CERTS names (Node 20 does not read the macOS keychain); check github.api_url';
  return undefined;
}
