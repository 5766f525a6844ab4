import { startRedis, type RedisServerHandle } from '../support/redis';
import { uniquePrefix } from '../support/prefix';
import { startSessionApp, type RunningApp } from './support/session-app';
import { Visitor } from './support/http-client';

/**
 * `cookie.secure: 'auto'` behind an HTTPS-terminating proxy (`trustProxy: true`): every cookie the
 * library writes decides `Secure` the same way, the logout's clearing cookie included.
 */
describe("secure: 'auto' behind an HTTPS proxy", () => {
  let redis: RedisServerHandle;
  let app: RunningApp;
  const viaHttps = { 'x-forwarded-proto': 'https' };

  beforeAll(async () => {
    redis = await startRedis();
    app = await startSessionApp({ redis: redis.url, prefix: uniquePrefix('secure'), trustProxy: true });
  });

  afterAll(async () => {
    await app?.close();
    await redis?.stop();
  });

  it("marks the session cookie and logout's clearing cookie Secure", async () => {
    const visitor = new Visitor(app.url);
    const login = await visitor.post('/login', { id: 'u1' }, viaHttps);
    expect(login.setCookie).toMatch(/^sid=/);
    expect(login.setCookie).toMatch(/;\s*Secure/i);

    const logout = await visitor.post('/logout', undefined, viaHttps);
    expect(logout.status).toBe(204);
    expect(logout.setCookie).toMatch(/^sid=;/);
    expect(logout.setCookie).toMatch(/Expires=Thu, 01 Jan 1970/i);
    expect(logout.setCookie).toMatch(/;\s*Secure/i);
  });

  it('leaves Secure off both over plain HTTP', async () => {
    const visitor = new Visitor(app.url);
    const plain = { 'x-forwarded-proto': 'http' };
    const login = await visitor.post('/login', { id: 'u2' }, plain);
    expect(login.setCookie).toMatch(/^sid=/);
    expect(login.setCookie).not.toMatch(/;\s*Secure/i);
    const logout = await visitor.post('/logout', undefined, plain);
    expect(logout.setCookie).toMatch(/^sid=;/);
    expect(logout.setCookie).not.toMatch(/;\s*Secure/i);
  });
});
