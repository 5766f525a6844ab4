'use strict';
const net = require('node:net');

/** Whether `port` can be listened on at `host` right now. */
function portIsFree(port, host = '127.0.0.1') {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/** A port the system reports free (it could be taken again before use; fine for a demo). */
function freePort(host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** `preferred` when it is free, any free port otherwise. */
async function preferredOrFreePort(preferred, host = '127.0.0.1') {
  return (await portIsFree(preferred, host)) ? preferred : freePort(host);
}

module.exports = { freePort, portIsFree, preferredOrFreePort };
