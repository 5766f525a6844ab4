import Redis from 'ioredis';
import type { ConnectionOptions } from 'node:tls';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LOCALHOST, onFreePorts } from './ports';
import { ask, askOver, waitUntil } from './probe';
import { launchOnFreePort, launchRedisServer, redisServerMissingReason } from './processes';
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
    // Without this the master waits 5 s for more replicas before the first diskless sync.
    const masterArgs = ['--repl-diskless-sync-delay', '0'];
    const masterDir = await subFolder(root, 'master');
    const { port: masterPort, stop: stopMaster } = await launchOnFreePort({ dir: masterDir, args: masterArgs });
    onStop(stopMaster);
    const replicaArgs = ['--replicaof', LOCALHOST, String(masterPort)];
    const replicaDir = await subFolder(root, 'replica');
    const { port: replicaPort, stop: stopReplica } = await launchOnFreePort({ dir: replicaDir, args: replicaArgs });
    onStop(stopReplica);
    await waitUntil('the replica to sync with its master', async () =>
      String(await ask(LOCALHOST, replicaPort, 'INFO', 'replication')).includes('master_link_status:up'),
    );

    // Sentinel rewrites its config file, so it gets its own writable copy.
    const sentinelDir = await subFolder(root, 'sentinel');
    const configFile = join(sentinelDir, 'sentinel.conf');
    await writeFile(configFile, `sentinel monitor ${MASTER_NAME} ${LOCALHOST} ${masterPort} 1\n`);
    const { port: sentinelPort, stop: stopSentinel } = await launchOnFreePort({ dir: sentinelDir, configFile, args: ['--sentinel'] });
    onStop(stopSentinel);
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
    const nodes: { port: number; busPort: number }[] = [];
    for (let i = 0; i < CLUSTER_SIZE; i++) {
      const dir = await subFolder(root, `node-${i}`);
      const node = await onFreePorts(2, async ([port, busPort]) => {
        // A config file per attempt: a node that found its port taken may have written one already.
        const args = ['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`), '--cluster-port', String(busPort)];
        onStop((await launchRedisServer({ port, dir, args, tls })).stop);
        return { port, busPort };
      });
      nodes.push(node);
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
    const addresses = nodes.map(({ port }) => ({ host: LOCALHOST, port }));
    await untilPubSubCrossesTheBus(addresses, tls?.clientTls);
    return { nodes: addresses };
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

/**
 * Resolves once a message published on any node reaches a subscriber on every other node, in one
 * round. `cluster_state:ok` and every link `connected` are not enough on Valkey 8.0: for up to a few
 * seconds after the cluster forms, a node drops the pub/sub messages that arrive on a bus link whose
 * sender it has not identified yet (measured here: messages lost until 2.0 to 4.4 s after
 * `cluster_state:ok`; Redis 7.0 and 7.4 lost none). Once a pair has delivered, it keeps delivering,
 * so one round that crosses every pair is the event to wait for. The events and near-cache suites
 * publish from their first request.
 */
async function untilPubSubCrossesTheBus(nodes: Address[], tls: ConnectionOptions | undefined): Promise<void> {
  const connect = ({ host, port }: Address) => new Redis({ host, port, tls, lazyConnect: true, maxRetriesPerRequest: 0 });
  const subscribers = nodes.map(connect);
  const publishers = nodes.map(connect);
  const heard = subscribers.map(() => new Set<string>());
  try {
    for (const [i, subscriber] of subscribers.entries()) {
      subscriber.on('message', (_channel: string, message: string) => heard[i].add(message));
      await subscriber.subscribe('harness:bus-check');
    }
    let round = 0;
    await waitUntil('pub/sub messages to cross the cluster bus from every node to every node', async () => {
      round++;
      const sent = publishers.map((_, i) => `${round}:${i}`);
      await Promise.all(publishers.map((publisher, i) => publisher.publish('harness:bus-check', sent[i])));
      await new Promise((resolve) => setTimeout(resolve, 50));
      return heard.every((messages) => sent.every((message) => messages.has(message)));
    });
  } finally {
    for (const client of [...subscribers, ...publishers]) client.disconnect();
  }
}
