import { checkOrigin } from './socket-origin';

describe('checkOrigin', () => {
  const refused = /may not open a socket here \(option "sockets.allowedOrigins"\)/;

  it("lets the app's own origin through: the Origin's host is the handshake's Host", () => {
    expect(() => checkOrigin({ host: 'shop.example', origin: 'https://shop.example' }, [], undefined)).not.toThrow();
    expect(() => checkOrigin({ host: '127.0.0.1:3000', origin: 'http://127.0.0.1:3000' }, [], undefined)).not.toThrow();
    expect(() => checkOrigin({ host: 'Shop.Example', origin: 'https://shop.example' }, [], undefined)).not.toThrow();
    // A default port is left out of both.
    expect(() => checkOrigin({ host: 'shop.example', origin: 'https://shop.example:443' }, [], undefined)).not.toThrow();
  });

  it('refuses another host, another port, and an opaque origin', () => {
    expect(() => checkOrigin({ host: 'shop.example', origin: 'https://evil.example' }, [], undefined)).toThrow(refused);
    expect(() => checkOrigin({ host: 'shop.example', origin: 'https://shop.example.evil.example' }, [], undefined)).toThrow(refused);
    expect(() => checkOrigin({ host: '127.0.0.1:3000', origin: 'http://127.0.0.1:3001' }, [], undefined)).toThrow(refused);
    expect(() => checkOrigin({ host: 'shop.example', origin: 'null' }, [], undefined)).toThrow(refused);
    expect(() => checkOrigin({ origin: 'https://shop.example' }, [], undefined)).toThrow(refused);
  });

  it('lets the allowed origins through, exactly as listed', () => {
    const allowed = ['https://partner.example'];
    expect(() => checkOrigin({ host: 'shop.example', origin: 'https://partner.example' }, allowed, undefined)).not.toThrow();
    expect(() => checkOrigin({ host: 'shop.example', origin: 'http://partner.example' }, allowed, undefined)).toThrow(refused);
  });

  it('takes X-Forwarded-Host for the own origin only under trustProxy', () => {
    const headers = { host: 'replica-1:3000', 'x-forwarded-host': 'shop.example', origin: 'https://shop.example' };
    expect(() => checkOrigin(headers, [], true)).not.toThrow();
    expect(() => checkOrigin(headers, [], undefined)).toThrow(refused);
    expect(() => checkOrigin({ ...headers, 'x-forwarded-host': 'shop.example, proxy.internal' }, [], true)).not.toThrow();
  });

  it('does not check a handshake without Origin: no browser sent it', () => {
    expect(() => checkOrigin({ host: 'shop.example' }, [], undefined)).not.toThrow();
  });
});
