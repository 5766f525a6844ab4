'use strict';
// A round-robin load balancer for the demo and the tests: each request goes to the next replica in
// turn, with no stickiness, so consecutive requests of one browser land on different replicas.

const http = require('node:http');
const httpProxy = require('http-proxy');

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
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  // xfwd adds X-Forwarded-For/-Port/-Proto: the shop trusts one proxy hop and reads the client from them.
  const proxy = httpProxy.createProxyServer({ xfwd: true, agent });
  let turn = 0;

  const server = http.createServer((req, res) => {
    const target = targets[turn];
    turn = (turn + 1) % targets.length;
    proxy.web(req, res, { target }, (error) => badGateway(res, target, error));
  });
  // WebSocket upgrades (the live channel) take their turn like requests: no stickiness either, which
  // the websocket transport does not need (one connection, one replica, for the socket's whole life).
  const upgraded = new Set();
  server.on('upgrade', (req, socket, head) => {
    const target = targets[turn];
    turn = (turn + 1) % targets.length;
    upgraded.add(socket);
    socket.once('close', () => upgraded.delete(socket));
    proxy.ws(req, socket, head, { target, agent: false }, () => socket.destroy());
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
        proxy.close();
      }),
  };
}

/** The replica did not answer: a JSON 502 in the shop's error shape, naming the replica. */
function badGateway(res, target, error) {
  if (res.headersSent) return res.destroy();
  const body = JSON.stringify({ statusCode: 502, message: `Replica ${target} did not answer: ${error.code ?? error.message}`, error: 'Bad Gateway' });
  res.writeHead(502, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

module.exports = { startBalancer };
