// An api_url that answers web pages (a GitHub Enterprise Server host without /api/v3, as the fake
// GitHub serves outside its prefix) makes GitHub unreadable with one line, never the page, and never
// a 404 a caller would read as "gone": fail closed, not "no jobs" and not "runner already deleted".
import { harness, type Harness } from './github-helpers.js';

let h: Harness;
afterEach(async () => {
  await h?.fake.stop();
});

test('the sweep and the runner list fail with one line naming the origin, not the page', async () => {
  h = await harness({ pathPrefix: '/api/v3' });
  const wrong = h.make({ apiUrl: h.fake.webUrl });
  for (const call of [() => wrong.listJobs(), () => wrong.listRunners()]) {
    const err = await call().then(() => undefined, (e: unknown) => e as { status?: number; message: string });
    expect(err?.message).toBe(`${h.fake.webUrl}: this URL does not answer like the GitHub API (HTTP 404 text/html, not JSON); check github.api_url (https://api.github.com, or https://HOST/api/v3 for GitHub Enterprise Server)`);
    expect(err?.status).toBe(502);
  }
});

test('a runner deletion answered by a web page is a failure, never "not found" (already gone)', async () => {
  h = await harness({ pathPrefix: '/api/v3' });
  const wrong = h.make({ apiUrl: h.fake.webUrl });
  await expect(wrong.deleteRunner(12345)).rejects.toMatchObject({ status: 502 });
});
