/**
 * A small forward proxy for tests, as a corporate network has one: it answers CONNECT (the tunnel
 * an HTTPS client asks for) and records every tunnel. It alone knows the addresses of `hosts`
 * (name → 127.0.0.1 port), so a server named there is reachable only through it: the name does not
 * resolve for anyone else (`.test` is reserved and never resolves: RFC 6761 §6.2).
 *
 * ## Gotchas
 * - Only CONNECT: an HTTPS client never sends anything else to a proxy. A plain request gets 405.
 * - Tunnels are raw byte pipes; the TLS inside is between the client and the server (the proxy
 *   never sees the token). `close()` ends open tunnels too.
 */
import { createServer, type IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';

export interface TestProxy {
  url: string;
  /** `host:port` of every CONNECT asked for, in order. */
  tunnels: string[];
  close(): Promise<void>;
}

export async function startConnectProxy(hosts: Record<string, string> = {}): Promise<TestProxy> {
  const tunnels: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((_req, res) => res.writeHead(405).end());
  server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    const target = req.url ?? '';
    tunnels.push(target);
    const [host, port] = [target.replace(/:\d+$/, ''), Number(/:(\d+)$/.exec(target)?.[1] ?? 443)];
    const upstream = connect({ host: hosts[host] ?? host, port });
    sockets.add(client).add(upstream);
    upstream.once('connect', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    upstream.on('error', () => {
      if (!client.destroyed) client.end('HTTP/1.1 502 Bad Gateway\r\n\r\n');
    });
    client.on('error', end);
    client.on('close', end);
    upstream.on('close', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    tunnels,
    close: async () => {
      for (const s of sockets) s.destroy();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
