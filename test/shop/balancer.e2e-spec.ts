import { once } from 'node:events';
import http, { type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { startBalancer, type Balancer } from '../../scripts/demo/balancer';

/**
 * The demo's round-robin balancer, against plain Node servers: what the shop's suites rely on it for
 * (turns without stickiness, the X-Forwarded-* headers the shop trusts, every Set-Cookie, bodies both
 * ways, WebSocket upgrades, a 502 for a replica that is gone).
 */
describe('the demo balancer', () => {
  /** A replica that answers with what it saw, its name in `x-replica`, and echoes on an upgraded socket. */
  async function replica(name: string): Promise<{ server: Server; url: string }> {
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        if (req.url === '/refuse') {
          res.writeHead(403, { 'content-type': 'text/plain' }).end('no');
          return;
        }
        res.setHeader('x-replica', name);
        res.setHeader('set-cookie', ['a=1; Path=/', 'b=2; Path=/']);
        if (req.url === '/stream') {
          res.write('one,'); // no Content-Length: the answer is chunked on both hops
          setTimeout(() => res.end('two'), 20);
          return;
        }
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString() }));
      });
    });
    server.on('upgrade', (req: IncomingMessage, socket: Socket) => {
      if (req.url === '/refuse') {
        socket.end('HTTP/1.1 401 Unauthorized\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n7\r\nno auth\r\n0\r\n\r\n');
        return;
      }
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\nX-Replica: ${name}\r\n\r\n`);
      socket.on('data', (data: Buffer) => socket.write(`${name}:${data.toString()}`));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
  }

  let replicas: { server: Server; url: string }[];
  let balancer: Balancer;

  beforeAll(async () => {
    replicas = [await replica('r1'), await replica('r2')];
    balancer = await startBalancer({ targets: replicas.map((r) => r.url) });
  });

  afterAll(async () => {
    await balancer?.close();
    for (const { server } of replicas ?? []) {
      server.closeAllConnections();
      server.close();
    }
  });

  it('sends each request to the next replica in turn, with the body, every Set-Cookie and the forwarded headers', async () => {
    const first = await fetch(`${balancer.url}/echo?x=1`, { method: 'POST', body: 'hello', headers: { 'x-forwarded-for': '203.0.113.9' } });
    const second = await fetch(`${balancer.url}/echo`);
    expect([first.headers.get('x-replica'), second.headers.get('x-replica')].sort()).toEqual(['r1', 'r2']);
    expect(first.headers.getSetCookie()).toEqual(['a=1; Path=/', 'b=2; Path=/']);
    const seen = (await first.json()) as { method: string; url: string; headers: Record<string, string>; body: string };
    expect(seen).toMatchObject({ method: 'POST', url: '/echo?x=1', body: 'hello' });
    expect(seen.headers).toMatchObject({
      host: `127.0.0.1:${balancer.port}`,
      'x-forwarded-for': '203.0.113.9,127.0.0.1',
      'x-forwarded-port': String(balancer.port),
      'x-forwarded-proto': 'http',
      'x-forwarded-host': `127.0.0.1:${balancer.port}`,
    });
    expect(seen.headers).not.toHaveProperty('keep-alive');
    await second.text();
  });

  it('passes a streamed answer through as it comes', async () => {
    const res = await fetch(`${balancer.url}/stream`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('one,two');
  });

  /** An upgrade through the balancer: the 101 and the socket, or the refusal. */
  function upgrade(path: string): Promise<{ res: IncomingMessage; socket?: Socket }> {
    return new Promise((resolve, reject) => {
      const req = http.request(`${balancer.url}${path}`, { headers: { connection: 'Upgrade', upgrade: 'echo' } });
      req.once('upgrade', (res, socket) => resolve({ res, socket }));
      req.once('response', (res) => resolve({ res }));
      req.once('error', reject);
      req.end();
    });
  }

  it('carries a WebSocket-style upgrade both ways, and the replicas take turns for those too', async () => {
    const a = await upgrade('/live');
    const b = await upgrade('/live');
    try {
      expect(a.res.statusCode).toBe(101);
      const names = [String(a.res.headers['x-replica']), String(b.res.headers['x-replica'])];
      expect([...names].sort()).toEqual(['r1', 'r2']);
      a.socket!.write('ping');
      const [echo] = (await once(a.socket!, 'data')) as [Buffer];
      expect(echo.toString()).toBe(`${names[0]}:ping`);
    } finally {
      a.socket?.destroy();
      b.socket?.destroy();
    }
  });

  it('hands back a refused upgrade whole, and a plain refusal as it is', async () => {
    const { res, socket } = await upgrade('/refuse');
    expect(socket).toBeUndefined();
    expect(res.statusCode).toBe(401);
    res.setEncoding('utf8');
    let body = '';
    for await (const chunk of res) body += chunk;
    expect(body).toBe('no auth');
    const plain = await fetch(`${balancer.url}/refuse`);
    expect(plain.status).toBe(403);
    expect(await plain.text()).toBe('no');
  });

  it('answers 502 in the shop error shape, naming the replica, when a replica is gone', async () => {
    const gone = await replica('gone');
    gone.server.close();
    await once(gone.server, 'close');
    const lone = await startBalancer({ targets: [gone.url] });
    try {
      const res = await fetch(`${lone.url}/echo`);
      expect(res.status).toBe(502);
      expect(await res.json()).toEqual({ statusCode: 502, message: `Replica ${gone.url} did not answer: ECONNREFUSED`, error: 'Bad Gateway' });
    } finally {
      await lone.close();
    }
  });
});
