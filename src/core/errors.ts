/**
 * One way to turn anything thrown into the text a log line, a tick failure or a status field shows.
 * Errors give their message; anything else (a string thrown, a rejected non-Error) its String().
 */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
