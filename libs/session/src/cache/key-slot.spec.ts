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

  // The slots below were read from a Redis 7.0 started with cluster-enabled (CLUSTER KEYSLOT).
  it('hashes the whole key when its tag is empty, and not the empty string', () => {
    expect(keySlot('foo{}{bar}')).toBe(8363);
    expect(keySlot('{}')).toBe(15257);
  });

  it('hashes the whole key when it has no tag: a lone closing brace, an opening one never closed', () => {
    expect(keySlot('foo}bar')).toBe(7223);
    expect(keySlot('foo{bar')).toBe(15278);
  });

  it('looks for the closing brace only after the opening one', () => {
    expect(keySlot('a}{b}')).toBe(3300);
    expect(keySlot('a}{b}')).toBe(keySlot('b'));
  });

  it('hashes the UTF-8 bytes of the key', () => {
    expect(keySlot('é')).toBe(10180);
    expect(keySlot('sess:é{ü}')).toBe(9552);
  });
});
