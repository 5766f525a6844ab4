import { KeyedQueue } from './atomic-update';

/** A promise the test resolves or rejects by hand. */
function gate<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('KeyedQueue', () => {
  it('runs the tasks of one key one after another, in order', async () => {
    const queue = new KeyedQueue();
    const log: string[] = [];
    const first = gate();
    const a = queue.run('k', async () => {
      log.push('a start');
      await first.promise;
      log.push('a end');
      return 'a';
    });
    const b = queue.run('k', async () => {
      log.push('b start');
      return 'b';
    });
    await tick();
    expect(log).toEqual(['a start']); // b waits for a
    first.resolve();
    await expect(Promise.all([a, b])).resolves.toEqual(['a', 'b']);
    expect(log).toEqual(['a start', 'a end', 'b start']);
  });

  it('runs tasks of different keys at the same time', async () => {
    const queue = new KeyedQueue();
    const blocker = gate();
    const log: string[] = [];
    const a = queue.run('k1', async () => {
      log.push('k1');
      await blocker.promise;
    });
    const b = queue.run('k2', async () => {
      log.push('k2');
    });
    await b;
    expect(log).toEqual(['k1', 'k2']);
    blocker.resolve();
    await a;
  });

  it('passes a failure to its own caller only; the next task still runs', async () => {
    const queue = new KeyedQueue();
    const failing = queue.run('k', async () => {
      throw new Error('boom');
    });
    const next = queue.run('k', async () => 'ran');
    await expect(failing).rejects.toThrow('boom');
    await expect(next).resolves.toBe('ran');
  });

  it('forgets a key once its queue is empty', async () => {
    const queue = new KeyedQueue();
    await queue.run('k', async () => 1);
    await tick();
    expect(queue.pendingKeys).toBe(0);
  });
});
