// One fake GitHub (src/sim/github/server.ts) per test: started before each test of the enclosing file
// or describe block and handed to `set` with its base URL, stopped after each.
//
// ## Gotchas
// - Fresh per test: state (runners, jobs, request counts, faults) never leaks between tests.
import { FakeGitHub } from '../../src/sim/github/server.js';

export function fakeGitHubPerTest(opts: ConstructorParameters<typeof FakeGitHub>[0], set: (fake: FakeGitHub, url: string) => void): void {
  let fake: FakeGitHub | undefined;
  beforeEach(async () => {
    fake = new FakeGitHub(opts);
    set(fake, await fake.start());
  });
  afterEach(async () => {
    await fake?.stop();
  });
}
