import type { Redis } from 'ioredis';
import { ReplicaAcknowledgement } from './replica-acknowledgement';

/**
 * The durability seam's shortfall reporting, over a stand-in connection (the WAIT itself, against real
 * replicas, is test/session/durability.e2e-spec.ts).
 */
function seam(connection: { status: string; waitAnswers?: number }) {
  const dedicated = {
    status: connection.status,
    isCluster: false,
    call: jest.fn(() => Promise.resolve(connection.waitAnswers ?? 0)),
    on: () => dedicated,
    once: () => dedicated,
    off: () => dedicated,
  };
  const shared = { duplicate: () => dedicated } as unknown as Redis;
  const warn = jest.fn();
  const onShortfall = jest.fn();
  const acknowledgement = new ReplicaAcknowledgement({ replicas: 1, timeout: 10 }, shared, (client) => client, 20, { warn }, onShortfall);
  /** A security operation that writes one key. */
  const write = () => acknowledgement.run(() => Promise.resolve(acknowledgement.clientFor('sess:key')));
  return { dedicated, warn, onShortfall, write };
}

describe('ReplicaAcknowledgement', () => {
  it('reports a write fewer replicas acknowledged than asked, and logs it', async () => {
    const { dedicated, warn, onShortfall, write } = seam({ status: 'ready', waitAnswers: 0 });
    expect(await write()).toBe(dedicated); // the write went over the connection of its own
    expect(dedicated.call).toHaveBeenCalledWith('WAIT', 1, 10);
    expect(onShortfall).toHaveBeenCalledTimes(1);
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('0 of 1 replicas acknowledged'));
  });

  it('reports nothing when the replicas acknowledged', async () => {
    const { onShortfall, warn, write } = seam({ status: 'ready', waitAnswers: 1 });
    await write();
    expect(onShortfall).not.toHaveBeenCalled();
    expect(warn).not.toHaveBeenCalled();
  });

  it('reports a write sent without waiting because its connection was not ready', async () => {
    const { dedicated, onShortfall, warn, write } = seam({ status: 'connecting' });
    expect(await write()).toBeUndefined(); // over the shared connection
    expect(dedicated.call).not.toHaveBeenCalled();
    expect(onShortfall).toHaveBeenCalledTimes(1);
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('not ready'));
  });
});
