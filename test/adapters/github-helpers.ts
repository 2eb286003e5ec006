/**
 * Shared set-up for the GitHub adapter tests: a FakeGitHub on port 0 and a real-Octokit adapter
 * pointed at it, with a unique throttle id per adapter (the throttling plugin's groups are
 * process-wide) and tiny retry/throttle waits so each test stays fast.
 */
import { memoryLogger, type LogEntry } from '../../src/core/logger.js';
import { Secrets } from '../../src/secrets/redact.js';
import { GitHubAdapter, type GitHubAdapterOptions } from '../../src/adapters/github.js';
import { FakeGitHub, type FakeGitHubOptions } from '../../src/sim/github/server.js';

export const TOKEN = 'ghp_testtoken0123456789abcdefghijklmnop';

let seq = 0;

export interface Harness {
  fake: FakeGitHub;
  url: string;
  adapter: GitHubAdapter;
  entries: LogEntry[];
  secrets: Secrets;
  make(over?: Partial<GitHubAdapterOptions>): GitHubAdapter;
}

export async function harness(fakeOpts: FakeGitHubOptions = {}, over: Partial<GitHubAdapterOptions> = {}): Promise<Harness> {
  const fake = new FakeGitHub({ org: 'acme', tokens: [TOKEN], ...fakeOpts });
  const url = await fake.start();
  const entries: LogEntry[] = [];
  const secrets = new Secrets();
  const make = (o: Partial<GitHubAdapterOptions> = {}) =>
    new GitHubAdapter({
      apiUrl: url,
      org: 'acme',
      auth: { kind: 'token', token: TOKEN },
      repositories: [],
      logger: memoryLogger(entries),
      secrets,
      throttle: { id: `test-${process.pid}-${++seq}`, retryAfterBaseValue: 10 },
      retry: { retryAfterBaseValue: 5 },
      ...over,
      ...o,
    });
  return { fake, url, adapter: make(), entries, secrets, make };
}
