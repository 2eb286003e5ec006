// The transport reads at most MAX_BODY_BYTES of a response (audit turn4-security N9: a 150 MB body
// was buffered whole, RSS 59 → 706 MB). A server that streams more gets an error and a dropped
// connection; a normal body still reads.
import { createServer, type Server } from 'node:http';
import { jest } from '@jest/globals';
import { githubFetch, MAX_BODY_BYTES } from '../../src/adapters/github-transport.js';

jest.setTimeout(20_000);
let server: Server;
let base: string;
let sentBeforeClose = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === '/huge') {
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(1024 * 1024, 0x20);
      sentBeforeClose = 0;
      const pump = () => {
        // 24 MB if nobody stops it; the client should hang up after 16.
        while (sentBeforeClose < 24 * 1024 * 1024) {
          sentBeforeClose += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      return pump();
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

test('a body over the cap is an error, and the connection is dropped before the server has sent it all', async () => {
  const res = await githubFetch(5_000)(`${base}/huge`);
  // Not `rejects`: a body read whole would make jest print megabytes.
  const outcome = await res.text().then((t) => `read ${t.length} bytes`, (e: Error) => e.message);
  expect(outcome).toMatch(/larger than 16 MB/);
  expect(sentBeforeClose).toBeLessThan(24 * 1024 * 1024);
  expect(MAX_BODY_BYTES).toBe(16 * 1024 * 1024);
  expect(await (await githubFetch(5_000)(`${base}/small`)).json()).toEqual({ ok: true });
});
