import { join } from 'node:path';
import { LOCALHOST, onFreePorts } from './ports';
import { ask, waitUntil } from './probe';
import { launchRedisServer, type RedisProcess } from './processes';
import { makeTempDir, removeTempDir } from './temp-dirs';
import type { Address } from './topologies';

/** How many keys one MIGRATE moves at most. */
const KEYS_PER_MIGRATE = 100;

/** The node ID of a cluster node. */
export async function nodeIdOf(node: Address): Promise<string> {
  return String(await ask(node.host, node.port, 'CLUSTER', 'MYID'));
}

/** The master serving `slot`, as `node` sees the cluster (CLUSTER SLOTS). */
export async function ownerOfSlot(node: Address, slot: number): Promise<Address> {
  const ranges = (await ask(node.host, node.port, 'CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
  const range = ranges.find(([first, last]) => first <= slot && slot <= last);
  if (!range) throw new Error(`no node serves slot ${slot}`);
  return { host: range[2][0], port: Number(range[2][1]) };
}

/**
 * A slot moved from one master to another as `redis-cli --cluster reshard` does it, in its two halves
 * so a test can act in between: `moveKeys` marks the slot IMPORTING on the target and MIGRATING on the
 * source and MIGRATEs every key (clients get ASK redirections from then on); `assign` hands the slot
 * to the target on every master (clients get MOVED).
 */
export class SlotMigration {
  constructor(
    private readonly slot: number,
    private readonly from: Address,
    private readonly to: Address,
    /** Every master of the cluster, `from` and `to` included: each must learn the new owner. */
    private readonly masters: Address[],
  ) {}

  async moveKeys(): Promise<number> {
    const [fromId, toId] = [await nodeIdOf(this.from), await nodeIdOf(this.to)];
    await ask(this.to.host, this.to.port, 'CLUSTER', 'SETSLOT', this.slot, 'IMPORTING', fromId);
    await ask(this.from.host, this.from.port, 'CLUSTER', 'SETSLOT', this.slot, 'MIGRATING', toId);
    let moved = 0;
    for (;;) {
      const keys = (await ask(this.from.host, this.from.port, 'CLUSTER', 'GETKEYSINSLOT', this.slot, KEYS_PER_MIGRATE)) as string[];
      if (keys.length === 0) return moved;
      await ask(this.from.host, this.from.port, 'MIGRATE', this.to.host, this.to.port, '', 0, 5_000, 'KEYS', ...keys);
      moved += keys.length;
    }
  }

  /** The target first, then the source, then the others: the order `redis-cli --cluster` uses. */
  async assign(): Promise<void> {
    const toId = await nodeIdOf(this.to);
    const others = this.masters.filter((node) => !sameNode(node, this.to) && !sameNode(node, this.from));
    for (const node of [this.to, this.from, ...others]) await ask(node.host, node.port, 'CLUSTER', 'SETSLOT', this.slot, 'NODE', toId);
    await waitUntil(`every master to see slot ${this.slot} on ${this.to.port}`, async () =>
      (await Promise.all(this.masters.map((node) => ownerOfSlot(node, this.slot)))).every((owner) => sameNode(owner, this.to)),
    );
  }
}

/** A cluster node with no slots yet, met by `seed`'s cluster; `stop` ends it and removes its folder. */
export interface JoinedMaster extends Address {
  process: RedisProcess;
  stop(): Promise<void>;
}

/** Starts an empty cluster-enabled server and has it join the cluster `seed` belongs to; resolves once every node knows it. */
export async function joinEmptyMaster(seed: Address, members: Address[]): Promise<JoinedMaster> {
  const dir = await makeTempDir('cluster-joiner');
  let launched: { port: number; busPort: number; process: RedisProcess };
  try {
    launched = await onFreePorts(2, async ([port, busPort]) => {
      const args = ['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`), '--cluster-port', String(busPort)];
      return { port, busPort, process: await launchRedisServer({ port, dir, args }) };
    });
  } catch (error) {
    await removeTempDir(dir);
    throw error;
  }
  const { port, busPort, process } = launched;
  const stop = async () => {
    await process.stop();
    await removeTempDir(dir);
  };
  try {
    await ask(seed.host, seed.port, 'CLUSTER', 'MEET', LOCALHOST, port, busPort);
    const total = members.length + 1;
    await waitUntil(`every node to know the new master ${port}`, async () => {
      const infos = await Promise.all([...members, { host: LOCALHOST, port }].map((node) => ask(node.host, node.port, 'CLUSTER', 'INFO')));
      // cluster_state:ok on the newcomer: it has heard who serves every slot, and accepts keys.
      return infos.every((info) => String(info).includes(`cluster_known_nodes:${total}`) && String(info).includes('cluster_state:ok'));
    });
  } catch (error) {
    await stop();
    throw error;
  }
  return { host: LOCALHOST, port, process, stop };
}

function sameNode(a: Address, b: Address): boolean {
  return a.host === b.host && a.port === b.port;
}
