/**
 * The one rule for `GITHUB_*` variables: tart-fleet reads exactly two of them, as aliases of its own
 * settings, because GitHub's tooling gives them the same meaning and operators coming from Actions,
 * ARC or `gh` set them by habit:
 * - `GITHUB_TOKEN` → `TART_FLEET_GITHUB_TOKEN` (the token `gh` and Octokit-based tools read);
 * - `GITHUB_API_URL` → `TART_FLEET_GITHUB_API_URL` (Actions' own name for the API's URL, e.g.
 *   `https://HOST/api/v3` on GitHub Enterprise Server:
 *   https://docs.github.com/en/actions/reference/workflows-and-actions/variables#default-environment-variables).
 * The `TART_FLEET_` name wins when both are set. Any other `GITHUB_<KEY>` for which a
 * `TART_FLEET_GITHUB_<KEY>` exists (GITHUB_ORG, GITHUB_APP_ID, …) is a config error naming the
 * variable to use: silently ignoring it would check, or poll, something other than what was meant.
 *
 * ## Gotchas
 * - `GITHUB_*` variables that tart-fleet has no setting for (GITHUB_USER, GITHUB_REPOSITORY, …)
 *   belong to other tools and are left alone.
 * - The token alias is read where the credentials are (adapters/github-auth.ts); here it is only
 *   named, so that GITHUB_TOKEN is never reported as a stray variable.
 */

/** `GITHUB_*` aliases → the variable each stands for. */
export const GITHUB_ENV_ALIASES: Readonly<Record<string, string>> = {
  GITHUB_TOKEN: 'TART_FLEET_GITHUB_TOKEN',
  GITHUB_API_URL: 'TART_FLEET_GITHUB_API_URL',
};

/**
 * The environment with each alias copied to its `TART_FLEET_` name (when that one is unset), and a
 * problem for every other `GITHUB_<KEY>` that names one of `known`'s `TART_FLEET_GITHUB_<KEY>`.
 */
export function resolveGitHubAliases(env: NodeJS.ProcessEnv, known: ReadonlySet<string>): { env: NodeJS.ProcessEnv; problems: string[]; setBy: Map<string, string> } {
  const out: NodeJS.ProcessEnv = { ...env };
  const problems: string[] = [];
  // TART_FLEET_ name → the alias that set it, so a bad value's error names what the operator set.
  const setBy = new Map<string, string>();
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith('GITHUB_') || env[name] === undefined) continue;
    const target = GITHUB_ENV_ALIASES[name];
    if (target) {
      if (out[target] === undefined) {
        out[target] = env[name];
        setBy.set(target, name);
      }
      continue;
    }
    if (known.has(`TART_FLEET_${name}`)) {
      problems.push(`${name}: not read by tart-fleet (of the GITHUB_* variables only ${Object.keys(GITHUB_ENV_ALIASES).join(' and ')} are); set TART_FLEET_${name} instead, or unset it`);
    }
  }
  return { env: out, problems, setBy };
}
