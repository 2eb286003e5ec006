// A cold start sweeps an org over several ticks (the request budget): until every repository was
// swept once, a job missing from the sweep may simply not have been seen, so the planner must not
// read it as "gone" and delete a booting or idle VM as ghost demand.
import type { Action } from '../../src/core/model.js';
import { observed, plan, runner, seedConfig, vm } from './world.js';

const kinds = (actions: Action[]) => actions.map((a) => a.kind);

function scene(unswept: number) {
  const r = runner('coder', 10, { status: 'online', everConnected: true });
  const s = observed({ vms: [vm('coder', 10)], runners: [r] });
  if (s.github.ok) s.github.value.stats = { ...s.github.value.stats, repositories: 1000, unsweptRepositories: unswept };
  return s;
}

test('with repositories not swept yet, an idle runner whose job is not in the sweep is kept', () => {
  const p = plan(scene(400), seedConfig());
  expect(kinds(p.actions)).toEqual([]);
});

test('once every repository was swept, the same runner is ghost demand and goes with its VM', () => {
  const p = plan(scene(0), seedConfig());
  expect(kinds(p.actions)).toEqual(['delete-runner', 'delete-vm']);
});
