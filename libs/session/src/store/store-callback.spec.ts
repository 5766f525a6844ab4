import { withCallback } from './store-callback';

describe('withCallback (one implementation for callbacks and promises)', () => {
  it('without a callback returns the promise itself', async () => {
    const promise = Promise.resolve(42);
    expect(withCallback(promise, undefined)).toBe(promise);
    const failing = Promise.reject(new Error('no'));
    await expect(withCallback(failing, undefined)).rejects.toThrow('no');
  });

  it('with a callback passes (null, value) and resolves with the value', async () => {
    const callback = jest.fn();
    await expect(withCallback(Promise.resolve('v'), callback)).resolves.toBe('v');
    expect(callback).toHaveBeenCalledWith(null, 'v');
  });

  it('with a callback passes the error and the promise does not reject', async () => {
    const callback = jest.fn();
    const error = new Error('down');
    await expect(withCallback(Promise.reject(error), callback)).resolves.toBeUndefined();
    expect(callback).toHaveBeenCalledTimes(1);
    expect(callback).toHaveBeenCalledWith(error);
  });

  it('does not call the callback a second time when the callback itself throws', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick'] });
    try {
      const callback = jest.fn(() => {
        throw new Error('thrown by the callback');
      });
      await withCallback(Promise.resolve(1), callback);
      expect(callback).toHaveBeenCalledTimes(1);
      // The error is rethrown on a later turn, as callback code would see it; it is not swallowed.
      expect(() => jest.runOnlyPendingTimers()).toThrow('thrown by the callback');
    } finally {
      jest.useRealTimers();
    }
  });
});
