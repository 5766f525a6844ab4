import { SessionEvents } from './session-events';
import type { SessionEvent } from './session-event';
import { isSessionEvent } from './session-event';

describe('SessionEvents', () => {
  it('adds the replica and the time to what session code reports, leaving absent facts absent', () => {
    const events = new SessionEvents('replica-1');
    const seen: SessionEvent[] = [];
    events.subscribe((event) => seen.push(event));
    events.record({ type: 'created', digest: 'd1', userId: undefined, previousDigest: undefined });
    events.record({ type: 'login', digest: 'd2', userId: '7', previousDigest: 'd1' });
    expect(seen).toEqual([
      { type: 'created', digest: 'd1', replica: 'replica-1', at: expect.any(Number) },
      { type: 'login', digest: 'd2', userId: '7', previousDigest: 'd1', replica: 'replica-1', at: expect.any(Number) },
    ]);
    expect(Object.keys(seen[0]).sort()).toEqual(['at', 'digest', 'replica', 'type']);
  });

  it('relays what it records, and delivers what it hears from elsewhere to subscribers only', () => {
    const events = new SessionEvents('replica-1');
    const seen: string[] = [];
    const relayed: string[] = [];
    events.subscribe((event) => seen.push(`${event.type} ${event.replica}`));
    events.relayTo((event) => relayed.push(`${event.type} ${event.replica}`));
    events.record({ type: 'logout', digest: 'd1' });
    events.deliver({ type: 'revoked', digest: 'd2', replica: 'replica-2', at: 1 });
    expect(seen).toEqual(['logout replica-1', 'revoked replica-2']);
    expect(relayed).toEqual(['logout replica-1']);
  });

  it('hands the seam an observer that records', () => {
    const events = new SessionEvents('r');
    const seen: SessionEvent[] = [];
    events.subscribe((event) => seen.push(event));
    events.observer().sessionEvent!({ type: 'destroyed', digest: 'd' });
    expect(seen.map((event) => event.type)).toEqual(['destroyed']);
  });
});

describe('isSessionEvent', () => {
  it('accepts an event and refuses anything else that could come over the channel', () => {
    expect(isSessionEvent({ type: 'expired', digest: 'd', replica: 'r', at: 1 })).toBe(true);
    expect(isSessionEvent({ type: 'hacked', digest: 'd', replica: 'r', at: 1 })).toBe(false);
    expect(isSessionEvent({ type: 'login', digest: 1, replica: 'r', at: 1 })).toBe(false);
    expect(isSessionEvent({ type: 'login', digest: 'd', replica: 'r', at: '1' })).toBe(false);
    expect(isSessionEvent({ type: 'login', digest: 'd', replica: 'r', at: 1, userId: {} })).toBe(false);
    expect(isSessionEvent(null)).toBe(false);
    expect(isSessionEvent('login')).toBe(false);
  });
});
