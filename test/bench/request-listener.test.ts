// The fake GitHub's request tape (setRequestListener), which the org-scale bench counts from: one
// event per request with the endpoint name, the status sent (304s included) and the arrival time.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { FakeGitHub, type RequestEvent } from '../../src/sim/github/server.js';

const TOKEN = 'ghp_listenertest0123456789abcdefghijklm';

describe('FakeGitHub.setRequestListener', () => {
  const fake = new FakeGitHub({ org: 'tape', tokens: [TOKEN] });
  let url = '';
  beforeAll(async () => {
    url = await fake.start();
    fake.addRepo('one');
  });
  afterAll(() => fake.stop());

  test('reports each request once its response is sent, 304s and refusals included', async () => {
    const events: RequestEvent[] = [];
    fake.setRequestListener((e) => events.push(e));
    const get = (etag?: string) =>
      fetch(`${url}/orgs/tape/repos`, { headers: { authorization: `token ${TOKEN}`, ...(etag ? { 'if-none-match': etag } : {}) } });
    const first = await get();
    await first.text();
    const etag = first.headers.get('etag') ?? '';
    await (await get(etag)).text();
    await (await fetch(`${url}/orgs/tape/repos`)).text(); // no token: 401
    fake.setRequestListener(undefined);
    await (await get()).text();
    // 'finish' may trail the client's read by a tick: wait for the three (bounded generously).
    for (const deadline = Date.now() + 10_000; events.length < 3 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 10));

    expect(events.map((e) => [e.route, e.status])).toEqual([
      ['GET /orgs/{org}/repos', 200],
      ['GET /orgs/{org}/repos', 304],
      ['GET /orgs/{org}/repos', 401],
    ]);
    expect(events.every((e) => typeof e.at === 'number' && e.at > 0)).toBe(true);
  });
});
