// Guards the test setup itself: the ESM-only Octokit packages must import under jest.
import { Octokit } from '@octokit/rest';
import { throttling } from '@octokit/plugin-throttling';

test('ESM-only Octokit packages load in jest (ESM mode)', () => {
  const Throttled = Octokit.plugin(throttling);
  expect(typeof new Throttled({ throttle: { enabled: false } }).rest.actions.generateRunnerJitconfigForOrg).toBe('function');
});
