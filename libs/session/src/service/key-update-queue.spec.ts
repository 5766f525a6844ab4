import { FieldSealer } from '../store/field-sealer';
import type { SessionState } from '../store/session-state';
import { heldValue } from './key-update-queue';

/** Where an update of a key starts from when the queue knows nothing newer: what the request read (`heldValue`). */
describe('heldValue', () => {
  const sealer = new FieldSealer({ keys: [Buffer.alloc(32, 5)], acceptPlaintext: false });
  const state = (stored: [string, string][], extra: Partial<SessionState> = {}): SessionState => ({
    stored: new Map(stored),
    createdAt: 0,
    refreshed: true,
    ...extra,
  });

  it('answers the JSON read, held in Redis as it is without encryption', () => {
    expect(heldValue(state([['cart', '["tea"]']]), 'cart')).toEqual({ json: '["tea"]', held: '["tea"]' });
  });

  it('answers nothing for a key the session does not hold', () => {
    expect(heldValue(state([['cart', '["tea"]']]), 'user')).toEqual({ json: undefined, held: undefined });
  });

  it('opens a value the read left sealed, and answers the sealed string Redis holds beside it', () => {
    const sealed = sealer.seal('sess:k', 'cart', '["tea"]');
    const read = state([['cart', sealed]], { opening: { sealer, redisKey: 'sess:k' }, held: new Map([['cart', sealed]]) });
    expect(heldValue(read, 'cart')).toEqual({ json: '["tea"]', held: sealed });
  });

  it("answers what Redis holds from the read's held map under encryption, the JSON being the opened value", () => {
    const read = state([['cart', '["tea"]']], { held: new Map([['cart', 'sealed-in-redis']]) });
    expect(heldValue(read, 'cart')).toEqual({ json: '["tea"]', held: 'sealed-in-redis' });
  });
});
