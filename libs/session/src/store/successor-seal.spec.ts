import { createHash } from 'node:crypto';
import { newSessionId } from '../redis/session-id';
import { openSuccessor, sealSuccessor } from './successor-seal';

describe('successor seal', () => {
  const oldId = newSessionId();
  const successor = newSessionId();

  it('opens with the old ID, and only with it', () => {
    const sealed = sealSuccessor(successor, oldId);
    expect(openSuccessor(sealed, oldId)).toBe(successor);
    expect(openSuccessor(sealed, newSessionId())).toBeUndefined();
  });

  it('shows neither ID, and does not open with what Redis shows (the digest that names the key)', () => {
    const sealed = sealSuccessor(successor, oldId);
    expect(sealed).not.toContain(successor);
    expect(sealed).not.toContain(oldId);
    const digest = createHash('sha256').update(oldId).digest('base64url').slice(0, 32);
    expect(openSuccessor(sealed, digest)).toBeUndefined();
  });

  it('refuses a tampered or truncated value, never throwing', () => {
    const sealed = sealSuccessor(successor, oldId);
    const flipped = Buffer.from(sealed, 'base64url');
    flipped[flipped.length - 1] ^= 1;
    expect(openSuccessor(flipped.toString('base64url'), oldId)).toBeUndefined();
    expect(openSuccessor(sealed.slice(0, 20), oldId)).toBeUndefined();
    expect(openSuccessor('', oldId)).toBeUndefined();
    expect(openSuccessor('%%%', oldId)).toBeUndefined();
  });

  it('seals the same successor differently each time (a fresh IV)', () => {
    expect(sealSuccessor(successor, oldId)).not.toBe(sealSuccessor(successor, oldId));
  });

  it('opens a successor sealed by an earlier release: the key derivation and the layout are stable across a rolling deploy', () => {
    // IV 000102…0b, sealed with the HMAC-SHA-256 key of the old ID under "nest-redis-session:successor".
    const sealed = 'AAECAwQFBgcICQoLVkBpX3RsjxLAdbgr8r8RBVvHE_NQLzfZVbW5TLT0PiDgGBP8vopYZL2NdlD1lv-e';
    expect(openSuccessor(sealed, 'Zk3q0v9XbLr2Tw8YcN5mHs1uAe7dGj4p')).toBe('Qw2eRt5yUi8oPa1sDf4gHj7kLz0xCv3b');
  });

  it('never answers an empty successor, though it authenticates', () => {
    expect(openSuccessor(sealSuccessor('', oldId), oldId)).toBeUndefined();
  });
});
