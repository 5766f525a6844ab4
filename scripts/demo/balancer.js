'use strict';
// A round-robin load balancer for the demo and the tests: each request goes to the next replica in
// turn, with no stickiness, so consecutive requests of one browser land on different replicas.
//
// Written on node:http alone: http-proxy, which it used before, calls util._extend, deprecated at run
// time since Node 22 (DEP0060), so every demo on Node 22 or 24 printed a DeprecationWarning.

const http = require('node:http');

/**
 * Headers that describe one connection, not the message (RFC 9110, 7.6.1): never passed on, since the
 * balancer's connection to the replica is another one. An upgrade puts back the two it needs.
 */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'proxy-authenticate',
  'proxy-authorization',
]);

/**
 * Starts the balancer.
 * @param {{ targets: string[], port?: number, host?: string }} options
 *   targets: base URLs of the replicas; port: 0 (the default) picks a free one; host: @default '127.0.0.1'
 * @returns {Promise<{ url: string, port: number, close(): Promise<void> }>}
 */
async function startBalancer({ targets, port = 0, host = '127.0.0.1' }) {
  if (!Array.isArray(targets) || targets.length === 0) {
    throw new Error('startBalancer: "targets" must be a non-empty array of replica URLs');
  }
  const replicas = targets.map((target) => ({ target, url: new URL(target) }));
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  let turn = 0;
  const next = () => {
    const replica = replicas[turn];
    turn = (turn + 1) % replicas.length;
    return replica;
  };

  const server = http.createServer((req, res) => {
    const { target, url } = next();
    const upstream = http.request(
      { host: url.hostname, port: url.port, method: req.method, path: req.url, headers: forwardedHeaders(req), agent },
      (answer) => {
        res.writeHead(answer.statusCode, answer.statusMessage, endToEnd(answer.headers));
        answer.pipe(res);
        answer.once('error', () => res.destroy());
      },
    );
    upstream.once('error', (error) => badGateway(res, target, error));
    // A client that leaves before the answer is complete (a closed tab, an event stream ended) frees the replica's request too.
    res.once('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  });

  // WebSocket upgrades (the live channel) take their turn like requests: no stickiness either, which
  // the websocket transport does not need (one connection, one replica, for the socket's whole life).
  const upgraded = new Set();
  const track = (socket) => {
    upgraded.add(socket);
    socket.once('close', () => upgraded.delete(socket));
  };
  server.on('upgrade', (req, socket, head) => {
    const { url } = next();
    track(socket);
    socket.once('error', () => socket.destroy());
    const headers = { ...forwardedHeaders(req), connection: 'Upgrade', upgrade: req.headers.upgrade };
    const upstream = http.request({ host: url.hostname, port: url.port, method: req.method, path: req.url, headers, agent: false });
    upstream.once('upgrade', (answer, replicaSocket, replicaHead) => {
      track(replicaSocket);
      socket.write(headBlock(answer.statusCode, answer.statusMessage, pairs(answer.rawHeaders)));
      if (replicaHead.length > 0) socket.write(replicaHead);
      if (head.length > 0) replicaSocket.write(head);
      replicaSocket.once('error', () => socket.destroy());
      replicaSocket.once('close', () => socket.destroy());
      socket.once('close', () => replicaSocket.destroy());
      replicaSocket.pipe(socket).pipe(replicaSocket);
    });
    // The replica refused the upgrade (a 401, a 403 for a foreign origin): its answer goes back, whole,
    // on a connection that then closes, as a server does when it does not switch protocols.
    upstream.once('response', (answer) => {
      const chunks = [];
      answer.on('data', (chunk) => chunks.push(chunk));
      answer.once('end', () => {
        const body = Buffer.concat(chunks);
        const headers = { ...endToEnd(answer.headers), 'content-length': String(body.length), connection: 'close' };
        socket.end(Buffer.concat([Buffer.from(headBlock(answer.statusCode, answer.statusMessage, Object.entries(headers))), body]));
      });
      answer.once('error', () => socket.destroy());
    });
    upstream.once('error', () => socket.destroy());
    upstream.end();
  });

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const actualPort = server.address().port;

  return {
    url: `http://${host}:${actualPort}`,
    port: actualPort,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        for (const socket of upgraded) socket.destroy();
        agent.destroy();
      }),
  };
}

/**
 * The request's headers for the replica: its end-to-end ones (Host included, as the browser sent it),
 * X-Forwarded-For, -Port and -Proto with this hop appended, and X-Forwarded-Host unless a proxy before
 * set it. The shop trusts one proxy hop and reads the client's address, scheme and host from them.
 */
function forwardedHeaders(req) {
  const headers = endToEnd(req.headers);
  const encrypted = Boolean(req.socket.encrypted);
  const hostPort = /:(\d+)$/.exec(req.headers.host ?? '')?.[1];
  const hop = { for: req.socket.remoteAddress ?? '', port: hostPort ?? (encrypted ? '443' : '80'), proto: encrypted ? 'https' : 'http' };
  for (const [name, value] of Object.entries(hop)) {
    const header = `x-forwarded-${name}`;
    headers[header] = req.headers[header] ? `${req.headers[header]},${value}` : value;
  }
  headers['x-forwarded-host'] = req.headers['x-forwarded-host'] ?? req.headers.host ?? '';
  return headers;
}

/** `headers` without the hop-by-hop ones, nor those the Connection header names as such. */
function endToEnd(headers) {
  const named = String(headers.connection ?? '')
    .split(',')
    .map((name) => name.trim().toLowerCase());
  const kept = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name) && !named.includes(name)) kept[name] = value;
  }
  return kept;
}

/** A status line and headers (`[name, value or values]` pairs), as they go on a socket the balancer writes itself (an upgrade). */
function headBlock(statusCode, statusMessage, headers) {
  const lines = [`HTTP/1.1 ${statusCode} ${statusMessage}`];
  for (const [name, value] of headers) for (const one of [].concat(value)) lines.push(`${name}: ${one}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** Node's flat raw header list as `[name, value]` pairs, names spelt as received. */
function pairs(rawHeaders) {
  const list = [];
  for (let i = 0; i < rawHeaders.length; i += 2) list.push([rawHeaders[i], rawHeaders[i + 1]]);
  return list;
}

/** The replica did not answer: a JSON 502 in the shop's error shape, naming the replica. */
function badGateway(res, target, error) {
  if (res.headersSent) return res.destroy();
  const body = JSON.stringify({ statusCode: 502, message: `Replica ${target} did not answer: ${error.code ?? error.message}`, error: 'Bad Gateway' });
  res.writeHead(502, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

module.exports = { startBalancer };
