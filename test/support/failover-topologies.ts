import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LOCALHOST, onFreePorts } from './ports';
import { ask, waitUntil } from './probe';
import { launchOnFreePort, launchRedisServer, type RedisProcess } from './processes';
import { assemble, setupFolder, subFolder, type Address } from './topologies';

// Setups whose servers a test can kill or fail over: the fault suite and the failover tests.
// Timeouts are short (1 s to notice a dead master) so a failover takes seconds, not the 30 s default.

const MASTER_NAME = 'failover-master';
const SLOT_COUNT = 16384;

/** A server of a setup, with the handle to kill or freeze it. */
export interface Node extends Address {
  process: RedisProcess;
}

export interface FailoverSentinel {
  name: string;
  sentinels: Address[];
  /** Servers in start order: the first is the initial master. */
  servers: Node[];
  /** The master the sentinel reports now. */
  currentMaster(): Promise<Address>;
  /** Asks the sentinel for a failover now (SENTINEL FAILOVER), as an operator would for maintenance. */
  failover(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * One master, one replica and one sentinel (quorum 1) that declares the master down after
 * `downAfterMs` without an answer. `serverArgs` go to both data servers (e.g. AOF settings).
 */
export async function startFailoverSentinel(options: { downAfterMs?: number; serverArgs?: string[] } = {}): Promise<FailoverSentinel> {
  const downAfter = options.downAfterMs ?? 1_000;
  return assemble(async (onStop) => {
    const root = await setupFolder('failover-sentinel', onStop);
    const common = ['--repl-diskless-sync-delay', '0', ...(options.serverArgs ?? [])];
    const master = await launchOnFreePort({ dir: await subFolder(root, 'a'), args: common });
    onStop(master.stop);
    const masterPort = master.port;
    const replica = await launchOnFreePort({ dir: await subFolder(root, 'b'), args: [...common, '--replicaof', LOCALHOST, String(masterPort)] });
    onStop(replica.stop);
    const replicaPort = replica.port;
    await waitUntil('the replica to sync with its master', async () =>
      String(await ask(LOCALHOST, replicaPort, 'INFO', 'replication')).includes('master_link_status:up'),
    );
    const sentinelDir = await subFolder(root, 'sentinel');
    const configFile = join(sentinelDir, 'sentinel.conf');
    await writeFile(
      configFile,
      [
        `sentinel monitor ${MASTER_NAME} ${LOCALHOST} ${masterPort} 1`,
        `sentinel down-after-milliseconds ${MASTER_NAME} ${downAfter}`,
        `sentinel failover-timeout ${MASTER_NAME} 10000`,
        '',
      ].join('\n'),
    );
    const { port: sentinelPort, stop: stopSentinel } = await launchOnFreePort({ dir: sentinelDir, configFile, args: ['--sentinel'] });
    onStop(stopSentinel);
    const currentMaster = async (): Promise<Address> => {
      const reply = (await ask(LOCALHOST, sentinelPort, 'SENTINEL', 'get-master-addr-by-name', MASTER_NAME)) as [string, string];
      return { host: reply[0], port: Number(reply[1]) };
    };
    // A sentinel learns of replicas from the master's INFO, which it asks for every 10 s: a first
    // answer taken before the master listed its replica means one more period (seen once in CI-like
    // runs, past the default 15 s), so the wait covers two.
    await waitUntil(
      'the sentinel to report the master and see its replica',
      async () => {
        const replicas = (await ask(LOCALHOST, sentinelPort, 'SENTINEL', 'replicas', MASTER_NAME)) as unknown[];
        return (await currentMaster()).port === masterPort && replicas.length === 1;
      },
      { timeoutMs: 25_000 },
    );
    return {
      name: MASTER_NAME,
      sentinels: [{ host: LOCALHOST, port: sentinelPort }],
      servers: [
        { host: LOCALHOST, port: masterPort, process: master },
        { host: LOCALHOST, port: replicaPort, process: replica },
      ],
      currentMaster,
      failover: async () => void (await ask(LOCALHOST, sentinelPort, 'SENTINEL', 'FAILOVER', MASTER_NAME)),
    };
  });
}

export interface FailoverCluster {
  /** Seed nodes: every server. */
  nodes: Address[];
  /** The masters at start, each with its replica. */
  shards: { master: Node; replica: Node }[];
  /** Waits until every slot is served again (after a master was killed and its replica took over). */
  waitHealthy(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Three masters, each with one replica; a master that does not answer for `nodeTimeoutMs` is
 * replaced by its replica. Explicit bus ports, as in `startCluster`.
 */
export async function startFailoverCluster(options: { nodeTimeoutMs?: number } = {}): Promise<FailoverCluster> {
  const nodeTimeout = options.nodeTimeoutMs ?? 1_000;
  const shardCount = 3;
  return assemble(async (onStop) => {
    const root = await setupFolder('failover-cluster', onStop);
    const servers: (Node & { busPort: number })[] = [];
    for (let i = 0; i < shardCount * 2; i++) {
      const dir = await subFolder(root, `node-${i}`);
      const server = await onFreePorts(2, async ([port, busPort]) => {
        // A config file per attempt: a node that found its port taken may have written one already.
        const args = ['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`), '--cluster-port', String(busPort)];
        args.push('--cluster-node-timeout', String(nodeTimeout), '--repl-diskless-sync-delay', '0');
        return { host: LOCALHOST, port, busPort, process: await launchRedisServer({ port, dir, args }) };
      });
      onStop(server.process.stop);
      servers.push(server);
    }
    const masters = servers.slice(0, shardCount);
    const replicas = servers.slice(shardCount);
    for (const [i, node] of masters.entries()) {
      await ask(LOCALHOST, node.port, 'CLUSTER', 'SET-CONFIG-EPOCH', i + 1);
      const first = Math.floor((SLOT_COUNT * i) / shardCount);
      const last = Math.floor((SLOT_COUNT * (i + 1)) / shardCount) - 1;
      await ask(LOCALHOST, node.port, 'CLUSTER', 'ADDSLOTSRANGE', first, last);
    }
    for (const node of servers.slice(1)) await ask(LOCALHOST, servers[0].port, 'CLUSTER', 'MEET', LOCALHOST, node.port, node.busPort);
    const ids = await Promise.all(masters.map(async (node) => String(await ask(LOCALHOST, node.port, 'CLUSTER', 'MYID'))));
    for (const [i, replica] of replicas.entries()) {
      await waitUntil(`node ${replica.port} to learn of master ${masters[i].port}`, async () =>
        String(await ask(LOCALHOST, replica.port, 'CLUSTER', 'NODES')).includes(ids[i]),
      );
      await ask(LOCALHOST, replica.port, 'CLUSTER', 'REPLICATE', ids[i]);
    }
    for (const replica of replicas) {
      await waitUntil(`replica ${replica.port} to sync`, async () =>
        String(await ask(LOCALHOST, replica.port, 'INFO', 'replication')).includes('master_link_status:up'),
      );
    }
    const waitHealthy = async (timeoutMs = 30_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const alive = servers.filter((node) => node.process);
        const states = await Promise.all(alive.map((node) => ask(LOCALHOST, node.port, 'CLUSTER', 'INFO').then(String, () => 'unreachable')));
        const reachable = states.filter((info) => info !== 'unreachable');
        if (reachable.length > 0 && reachable.every((info) => info.includes('cluster_state:ok'))) return;
        if (Date.now() > deadline) throw new Error(`cluster not healthy after ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    };
    await waitHealthy();
    return {
      nodes: servers.map(({ host, port }) => ({ host, port })),
      shards: masters.map((master, i) => ({ master, replica: replicas[i] })),
      waitHealthy,
    };
  });
}

/** Waits until the server answers as a master (a replica promoted by a failover). */
export async function waitUntilMaster(node: Address, timeoutMs = 30_000): Promise<void> {
  await waitUntil(
    `${node.host}:${node.port} to become master`,
    async () => String(await ask(node.host, node.port, 'ROLE').catch(() => [])).startsWith('master'),
    { timeoutMs },
  );
}
