/**
 * How the host tells the guest's start script its tier: `export TF_TRUST=… TF_CACHE=…; <command>`
 * in front of `vm.runner_command`, for both deliveries (SSH and `tart exec`). An export reaches
 * every part of a compound command, where a `K=V cmd` prefix would reach only the first.
 *
 * ## Gotchas
 * - Only plain names and words are accepted: these are tier settings, never secrets (the JIT config
 *   travels on stdin), so they need no quoting and a bad one is a programming error, thrown at once.
 */
export function withExports(env: Record<string, string>, command: string): string {
  const pairs = Object.entries(env);
  for (const [k, v] of pairs) {
    if (!/^[A-Z_][A-Z0-9_]*$/.test(k) || !/^[A-Za-z0-9._-]*$/.test(v)) throw new Error(`runner environment ${k}: not a plain name=word pair`);
  }
  return pairs.length === 0 ? command : `export ${pairs.map(([k, v]) => `${k}=${v}`).join(' ')}; ${command}`;
}
