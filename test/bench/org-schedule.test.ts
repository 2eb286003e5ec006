// The org-scale scenario generator: deterministic, 5 % active repos, push jobs only in active repos
// and non-push jobs only in quiet ones, every job queued before its kind's discovery horizon.
import { describe, expect, test } from '@jest/globals';
import { orgSchedule, profileLabels } from '../../src/bench/org-schedule.js';

describe('orgSchedule', () => {
  test('the same options give the same scenario; another seed another one', () => {
    const a = orgSchedule({ repos: 1000, windowS: 600 });
    expect(orgSchedule({ repos: 1000, windowS: 600 })).toEqual(a);
    expect(orgSchedule({ repos: 1000, windowS: 600, seed: 2 }).jobs).not.toEqual(a.jobs);
  });

  test('1,000 repos: 50 active; ~15 jobs per 6 minutes, split by kind and horizon', () => {
    const s = orgSchedule({ repos: 1000, windowS: 600 });
    expect(s.repos).toHaveLength(1000);
    expect(s.repos.filter((r) => r.active)).toHaveLength(50);
    expect(s.horizonS).toEqual({ push: 480, 'non-push': 300 });
    const push = s.jobs.filter((j) => j.kind === 'push');
    const nonPush = s.jobs.filter((j) => j.kind === 'non-push');
    expect(push).toHaveLength(12); // 2.5/min × 60 % × 8 min
    expect(nonPush).toHaveLength(5); // 2.5/min × 40 % × 5 min
    const active = new Set(s.repos.filter((r) => r.active).map((r) => r.name));
    expect(push.every((j) => j.event === 'push' && active.has(j.repo) && j.atS < 480)).toBe(true);
    expect(nonPush.every((j) => j.event !== 'push' && !active.has(j.repo) && j.atS < 300)).toBe(true);
    expect(new Set(nonPush.map((j) => j.event))).toEqual(new Set(['workflow_dispatch', 'schedule', 'issue_comment']));
    expect(s.jobs.map((j) => j.atS)).toEqual([...s.jobs.map((j) => j.atS)].sort((a, b) => a - b));
  });

  test('quiet repos were last pushed at least a day before the window, active ones within half an hour', () => {
    const s = orgSchedule({ repos: 100, windowS: 300 });
    expect(s.repos.filter((r) => r.active)).toHaveLength(5);
    for (const r of s.repos) {
      if (r.active) expect(r.pushedAgoS).toBeLessThanOrEqual(1800);
      else expect(r.pushedAgoS).toBeGreaterThanOrEqual(86_400);
    }
  });

  test('push and non-push jobs ask for different profiles (a runner of one never serves the other)', () => {
    expect(profileLabels({ kind: 'push' })).toEqual(['self-hosted', 'push']);
    expect(profileLabels({ kind: 'non-push' })).toEqual(['self-hosted', 'quiet']);
  });

  test('bad input is refused with the field named', () => {
    expect(() => orgSchedule({ repos: 0, windowS: 600 })).toThrow(/repos/);
    expect(() => orgSchedule({ repos: 10, windowS: 10 })).toThrow(/windowS/);
  });
});
