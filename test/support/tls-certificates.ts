import { execFile, spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ConnectionOptions } from 'node:tls';
import { makeTempDir } from './temp-dirs';

const run = promisify(execFile);

/** A test CA and a server certificate it signed, valid for 127.0.0.1 and localhost, as files and as PEM. */
export interface TestCertificates {
  dir: string;
  caFile: string;
  certFile: string;
  keyFile: string;
  /** The CA's certificate (PEM): what a client trusts to check the server. */
  ca: string;
  /** What an ioredis client needs to connect with the server's certificate checked against this CA. */
  clientTls: ConnectionOptions;
}

/** Why certificates cannot be made here (no openssl CLI: Node's crypto cannot issue X.509 certificates), or undefined. */
export function opensslMissingReason(): string | undefined {
  const result = spawnSync('openssl', ['version'], { encoding: 'utf8', timeout: 5_000 });
  return result.error ? `openssl is not runnable (${result.error.message})` : result.status !== 0 ? 'openssl version failed' : undefined;
}

/**
 * A fresh CA and server certificate in a temp folder (removed at process exit), P-256 keys, valid one
 * day. Each call makes a different CA, so one call's CA does not trust another's server.
 */
export async function makeTestCertificates(label = 'tls'): Promise<TestCertificates> {
  const dir = await makeTempDir(label);
  const file = (name: string) => join(dir, name);
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const caArgs = ['req', '-x509', ...key, '-keyout', file('ca.key'), '-out', file('ca.crt'), '-days', '1', '-subj', '/CN=Session tests CA'];
  caArgs.push('-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  await run('openssl', caArgs);
  await run('openssl', ['req', '-new', ...key, '-keyout', file('server.key'), '-out', file('server.csr'), '-subj', '/CN=localhost']);
  await writeFile(file('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n');
  const signArgs = ['x509', '-req', '-in', file('server.csr'), '-CA', file('ca.crt'), '-CAkey', file('ca.key'), '-CAcreateserial'];
  signArgs.push('-out', file('server.crt'), '-days', '1', '-extfile', file('server.ext'));
  await run('openssl', signArgs);
  const ca = await readFile(file('ca.crt'), 'utf8');
  return { dir, caFile: file('ca.crt'), certFile: file('server.crt'), keyFile: file('server.key'), ca, clientTls: { ca, rejectUnauthorized: true } };
}

/**
 * redis-server arguments for TLS only: the plain port closed (`--port 0`), the TLS port open, no client
 * certificate asked for, and, in a cluster, the bus and replication over TLS too.
 */
export function redisTlsArgs(certificates: TestCertificates, tlsPort: number): string[] {
  const { certFile, keyFile, caFile } = certificates;
  const files = ['--tls-cert-file', certFile, '--tls-key-file', keyFile, '--tls-ca-cert-file', caFile];
  return ['--tls-port', String(tlsPort), ...files, '--tls-auth-clients', 'no', '--tls-replication', 'yes', '--tls-cluster', 'yes'];
}
