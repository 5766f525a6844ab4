import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePorts, LOCALHOST } from './ports';
import { ask, askOver, waitUntil } from './probe';
import { launchRedisServer, redisServerMissingReason } from './processes';
import { makeTempDir, removeTempDir } from './temp-dirs';
import type { TestCertificates } from './tls-certificates';

export interface Address {
  host: string;
  port: number;
}

const MASTER_NAME = 'harness-master';
const CLUSTER_SIZE = 3;
const SLOT_COUNT = 16384;

export function topologyAvailable(): { sentinel: boolean; cluster: boolean; reason?: string } {
  const reason = redisServerMissingReason();
  return reason ? { sentinel: false, cluster: false, reason } : { sentinel: true, cluster: true };
}

export interface SentinelSetup {
  master: Address;
  sentinels: Address[];
  name: string;
  stop(): Promise<void>;
}

/** One master, one replica and one sentinel (quorum 1), all on free local ports. */
export async function startSentinelSetup(): Promise<SentinelSetup> {
  return assemble(async (onStop) => {
    const root = await setupFolder('sentinel', onStop);
    const [masterPort, replicaPort, sentinelPort] = await freePorts(3);
    // Without this the master waits 5 s for more replicas before the first diskless sync.
    const masterArgs = ['--repl-diskless-sync-delay', '0'];
    onStop((await launchRedisServer({ port: masterPort, dir: await subFolder(root, 'master'), args: masterArgs })).stop);
    const replicaArgs = ['--replicaof', LOCALHOST, String(masterPort)];
    onStop((await launchRedisServer({ port: replicaPort, dir: await subFolder(root, 'replica'), args: replicaArgs })).stop);
    await waitUntil('the replica to sync with its master', async () =>
      String(await ask(LOCALHOST, replicaPort, 'INFO', 'replication')).includes('master_link_status:up'),
    );

    // Sentinel rewrites its config file, so it gets its own writable copy.
    const sentinelDir = await subFolder(root, 'sentinel');
    const configFile = join(sentinelDir, 'sentinel.conf');
    await writeFile(configFile, `sentinel monitor ${MASTER_NAME} ${LOCALHOST} ${masterPort} 1\n`);
    onStop((await launchRedisServer({ port: sentinelPort, dir: sentinelDir, configFile, args: ['--sentinel'] })).stop);
    await waitUntil('the sentinel to report the master', async () => {
      const reply = await ask(LOCALHOST, sentinelPort, 'SENTINEL', 'get-master-addr-by-name', MASTER_NAME);
      return Array.isArray(reply) && reply[0] === LOCALHOST && Number(reply[1]) === masterPort;
    });

    return {
      master: { host: LOCALHOST, port: masterPort },
      sentinels: [{ host: LOCALHOST, port: sentinelPort }],
      name: MASTER_NAME,
    };
  });
}

/**
 * Three masters and no replicas, slots split evenly. Each node gets an
 * explicit bus port so nothing depends on port + 10000 being free. With
 * `tls`, clients, the cluster bus and CLUSTER SLOTS all use TLS ports only.
 */
export async function startCluster(options: { tls?: TestCertificates } = {}): Promise<{ nodes: Address[]; stop(): Promise<void> }> {
  const { tls } = options;
  const askNode = (host: string, port: number, command: string, ...args: (string | number)[]) => askOver({ host, port, tls: tls?.clientTls }, command, ...args);
  return assemble(async (onStop) => {
    const root = await setupFolder('cluster', onStop);
    const ports = await freePorts(CLUSTER_SIZE * 2);
    const nodes = Array.from({ length: CLUSTER_SIZE }, (_, i) => ({ port: ports[i], busPort: ports[CLUSTER_SIZE + i] }));
    for (const [i, node] of nodes.entries()) {
      const dir = await subFolder(root, `node-${i}`);
      const args = ['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, 'nodes.conf')];
      args.push('--cluster-port', String(node.busPort));
      onStop((await launchRedisServer({ port: node.port, dir, args, tls })).stop);
    }

    for (const [i, node] of nodes.entries()) {
      // Distinct epochs up front spare the nodes a round of collision resolution.
      await askNode(LOCALHOST, node.port, 'CLUSTER', 'SET-CONFIG-EPOCH', i + 1);
      const first = Math.floor((SLOT_COUNT * i) / CLUSTER_SIZE);
      const last = Math.floor((SLOT_COUNT * (i + 1)) / CLUSTER_SIZE) - 1;
      await askNode(LOCALHOST, node.port, 'CLUSTER', 'ADDSLOTSRANGE', first, last);
    }
    for (const node of nodes.slice(1)) {
      await askNode(LOCALHOST, nodes[0].port, 'CLUSTER', 'MEET', LOCALHOST, node.port, node.busPort);
    }
    for (const node of nodes) {
      await waitUntil(`cluster node ${node.port} to report cluster_state:ok`, async () => {
        const info = String(await askNode(LOCALHOST, node.port, 'CLUSTER', 'INFO'));
        return info.includes('cluster_state:ok') && info.includes(`cluster_known_nodes:${CLUSTER_SIZE}`);
      });
    }

    return { nodes: nodes.map(({ port }) => ({ host: LOCALHOST, port })) };
  });
}

export type OnStop = (stop: () => Promise<void>) => void;

/** Builds a setup step by step; whatever was started is stopped in reverse order, also when a later step fails. */
export async function assemble<T extends object>(build: (onStop: OnStop) => Promise<T>): Promise<T & { stop(): Promise<void> }> {
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    const failures: unknown[] = [];
    for (let next = stops.pop(); next; next = stops.pop()) await next().catch((error) => failures.push(error));
    if (failures.length) throw failures[0];
  };
  try {
    return { ...(await build((fn) => stops.push(fn))), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

export async function setupFolder(label: string, onStop: OnStop): Promise<string> {
  if (redisServerMissingReason()) throw new Error(`Cannot start a ${label} setup: ${redisServerMissingReason()}`);
  const dir = await makeTempDir(label);
  onStop(() => removeTempDir(dir));
  return dir;
}

export async function subFolder(root: string, name: string): Promise<string> {
  const dir = join(root, name);
  await mkdir(dir);
  return dir;
}
