import { keySlot } from './key-slot';

describe('keySlot', () => {
  it('matches the slots Redis Cluster computes (CLUSTER KEYSLOT)', () => {
    expect(keySlot('123456789')).toBe(12739); // the CRC16/XMODEM check value 0x31C3
    expect(keySlot('foo')).toBe(12182);
    expect(keySlot('somekey')).toBe(11058);
  });

  it('hashes only the first non-empty hash tag', () => {
    expect(keySlot('{user1000}.following')).toBe(keySlot('user1000'));
    expect(keySlot('sess:{7}:heartbeat')).toBe(keySlot('7'));
    expect(keySlot('foo{}{bar}')).not.toBe(keySlot('bar')); // an empty tag: the whole key counts
    expect(keySlot('foo{{bar}}zap')).toBe(keySlot('{bar'));
  });
});
