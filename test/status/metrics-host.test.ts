// The metrics port answers only requests addressed to 127.0.0.1:<port> or localhost:<port>. A web page
// on this Mac can rebind a name it controls to 127.0.0.1 and read the answer as same-origin (DNS
// rebinding); its requests carry that name in Host. The audit (turn4-security N8) got a 200 for
// `Host: evil.example`.
import { request } from 'node:http';
import { FleetMetrics, serveMetrics } from '../../src/status/metrics.js';

function getWithHost(port: number, host: string | undefined): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/metrics', setHost: host !== undefined, headers: host !== undefined ? { host } : {} }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('only Host 127.0.0.1:<port> or localhost:<port> gets the metrics; a rebound name gets 421 and no data', async () => {
  const server = await serveMetrics(0, new FleetMetrics());
  try {
    const { port } = server.address() as { port: number };
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`]) {
      const r = await getWithHost(port, host);
      expect([host, r.status]).toEqual([host, 200]);
      expect(r.body).toMatch(/# TYPE tart_fleet_/);
    }
    for (const host of [`evil.example:${port}`, 'evil.example', `127.0.0.1:${port + 1}`, `127.0.0.1`]) {
      const r = await getWithHost(port, host);
      expect([host, r.status]).toEqual([host, 421]);
      expect(r.body).not.toMatch(/tart_fleet_/);
    }
    // No Host at all: node:http itself answers 400 (http.createServer requireHostHeader, default true).
    const none = await getWithHost(port, undefined);
    expect(none.status).toBe(400);
    expect(none.body).not.toMatch(/tart_fleet_/);
  } finally {
    await new Promise((r) => server.close(r));
  }
});
