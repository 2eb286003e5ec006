// The token stays home (src/adapters/github-origin.ts). The fake GitHub writes its pagination links
// to a second local server (setLinkOrigin: a reverse proxy writing its internal host into `Link`, or
// a hostile API; audit turn4-security N3), and a planted sweep state file carries a link there. The
// second server records every Authorization header it receives: it must receive none.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { harness, TOKEN, type Harness } from './github-helpers.js';

interface Thief {
  origin: string;
  seen: Array<{ url: string; authorization: string | undefined }>;
  server: Server;
}

/** Another origin that answers every GET with an empty list and notes what it was sent. */
async function thief(): Promise<Thief> {
  const seen: Thief['seen'] = [];
  const server = createServer((req, res) => {
    const headers: IncomingHttpHeaders = req.headers;
    seen.push({ url: req.url ?? '', authorization: headers.authorization });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(req.url?.includes('runners') ? { total_count: 0, runners: [] } : []));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return { origin: `http://127.0.0.1:${port}`, seen, server };
}

let h: Harness;
let t: Thief;
let dir: string;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tf-origin-'));
  t = await thief();
  h = await harness();
  // 101 public repositories: every list of them has a second page, so a `next` link.
  for (let i = 0; i < 101; i++) h.fake.addRepo(`repo-${String(i).padStart(4, '0')}`, { private: false });
});
afterEach(async () => {
  await h?.fake.stop();
  await new Promise((r) => t.server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

const tokenSent = () => t.seen.filter((s) => s.authorization?.includes(TOKEN));

test("the sweep does not follow a `next` link to another origin: it fails (GitHub unknown) and the token stays home", async () => {
  h.fake.setLinkOrigin(t.origin);
  await expect(h.adapter.listJobs()).rejects.toThrow(/refusing to send the GitHub credentials to http:\/\/127\.0\.0\.1:\d+: .*outside github\.api_url's origin/);
  expect(tokenSent()).toEqual([]);
  expect(t.seen).toEqual([]);
});

test("Octokit's paginate (validate's fleet checks) does not follow a `next` link to another origin", async () => {
  h.fake.setLinkOrigin(t.origin);
  await expect(h.adapter.describeFleet([1], 'tf-host-m')).rejects.toThrow(/refusing to send the GitHub credentials/);
  expect(t.seen).toEqual([]);
});

test('a sweep state file whose cached link points elsewhere is ignored with a warning (a cold start), never followed', async () => {
  const file = join(dir, 'github-sweep.json');
  const first = h.make({ sweepStateFile: file });
  await first.listJobs();
  // Plant: every cached link now names the other origin; the ETags still match, so GitHub answers 304
  // and a client that trusts the file follows the planted link.
  const planted = readFileSync(file, 'utf8').replace(/<http:\/\/127\.0\.0\.1:\d+/g, `<${t.origin}`);
  expect(planted).toContain(t.origin);
  writeFileSync(file, planted, { mode: 0o600 });
  const second = h.make({ sweepStateFile: file });
  const demand = await second.listJobs();
  expect(demand.jobs).toEqual([]);
  expect(tokenSent()).toEqual([]);
  expect(h.entries).toContainEqual(expect.objectContaining({ level: 'warn', msg: 'github sweep state ignored; starting cold', ctx: expect.objectContaining({ error: expect.stringMatching(/outside github\.api_url's origin/) }) }));
});

test('a sweep state file of the wrong shape is ignored with a warning', async () => {
  const file = join(dir, 'github-sweep.json');
  writeFileSync(file, JSON.stringify({ version: 1, api_url: h.url, org: 'acme', repo_source: 'org', repos: [{ name: 42 }], etags: [] }), { mode: 0o600 });
  await h.make({ sweepStateFile: file }).listJobs();
  expect(h.entries).toContainEqual(expect.objectContaining({ level: 'warn', msg: 'github sweep state ignored; starting cold', ctx: expect.objectContaining({ error: expect.stringMatching(/not a sweep state/) }) }));
});
