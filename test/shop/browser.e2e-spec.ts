import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startRedis, type RedisServerHandle } from '../support/redis';
import { CHROMIUM_ARGS, findChromium } from './support/chromium';
import { startShopCluster, type ShopCluster } from './support/shop-cluster';
import { ShopClient } from './support/shop-client';

// The page at / in a real browser, through the round-robin balancer: a login and a cart that survive
// reloads answered by other replicas. Uses only the page's data-test hooks, as users' tests would.

const ARTIFACTS = join(__dirname, '..', '..', 'artifacts');
const chromiumFound = findChromium();

if (chromiumFound.missing && process.env.CI) {
  // In CI a missing browser is a broken setup, not a reason to skip.
  describe('shop in a browser', () => {
    it('needs Chromium', () => {
      throw new Error(`The browser test cannot run in CI: ${chromiumFound.missing}`);
    });
  });
} else if (chromiumFound.missing) {
  console.warn(`Skipping the shop's browser test: ${chromiumFound.missing}`);
  describe.skip(`shop in a browser (skipped: ${chromiumFound.missing})`, () => {
    it('logs in, fills a cart, reloads and logs out', () => undefined);
  });
} else {
  describe('shop in a browser', () => {
    let redis: RedisServerHandle;
    let shop: ShopCluster;
    let browser: Browser;
    let page: Page;

    const hook = (name: string) => `[data-test="${name}"]`;
    const text = async (selector: string) => ((await page.textContent(selector)) ?? '').trim();
    // Runs in the page; the test's TypeScript has no DOM types, hence the narrow shape of `document`.
    type PageGlobals = { document: { querySelector(selector: string): { textContent: string | null } | null } };
    const waitForText = (selector: string, expected: string) =>
      page.waitForFunction(([sel, want]) => ((globalThis as unknown as PageGlobals).document.querySelector(sel)?.textContent ?? '').trim() === want, [
        selector,
        expected,
      ] as const);
    const lineQty = (sku: string) => `${hook('cart-line')}[data-sku="${sku}"] ${hook('qty')}`;

    beforeAll(async () => {
      redis = await startRedis({ controllable: true });
      shop = await startShopCluster(redis.url);
      browser = await chromium.launch({ executablePath: chromiumFound.path, args: CHROMIUM_ARGS });
      page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
      mkdirSync(ARTIFACTS, { recursive: true });
    });
    afterAll(async () => {
      await browser?.close();
      await shop?.close();
      await redis?.stop();
    });

    it('logs in as alice, fills the cart, keeps it across reloads on other replicas, and logs out', async () => {
      // A second device of alice's, so the page lists two sessions.
      const phone = new ShopClient(shop.url, 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Safari/604.1');
      expect((await phone.login('alice', 'wonderland')).status).toBe(200);
      // Another user, whose events alice's page must never list.
      expect((await new ShopClient(shop.url).login('bob', 'builder')).status).toBe(200);

      await page.goto(shop.url);
      await page.waitForSelector(`${hook('product')} >> nth=7`);
      expect(await text(hook('user'))).toBe('');

      await page.fill(hook('login-username'), 'alice');
      await page.fill(hook('login-password'), 'not-the-password');
      await page.click(hook('login-submit'));
      await waitForText(hook('login-error'), 'Invalid username or password');

      await page.fill(hook('login-password'), 'wonderland');
      await page.click(hook('login-submit'));
      await waitForText(hook('user'), 'alice');

      const add = (sku: string) => page.click(`${hook('product')}[data-sku="${sku}"] ${hook('add')}`);
      await add('TEA-EARL');
      await waitForText(lineQty('TEA-EARL'), '1');
      await add('TEA-EARL');
      await waitForText(lineQty('TEA-EARL'), '2');
      await add('POT-CAST');
      await waitForText(lineQty('POT-CAST'), '1');
      await waitForText(hook('cart-total'), '$58.00');
      await page.waitForSelector(`${hook('session')} >> nth=1`);
      expect(await page.locator(`${hook('session')}[data-current="true"]`).count()).toBe(1);
      await page.waitForLoadState('networkidle');
      await page.screenshot({ path: join(ARTIFACTS, 'shop.png'), fullPage: true });

      // Reload until another replica answers; the login and the cart are there every time.
      const before = await text(hook('replica'));
      let after = before;
      for (let reloads = 0; reloads < 5 && after === before; reloads++) {
        await page.reload();
        await waitForText(lineQty('TEA-EARL'), '2');
        await waitForText(hook('user'), 'alice');
        await page.waitForLoadState('networkidle');
        after = await text(hook('replica'));
      }
      expect(shop.replicaIds).toContain(after);
      expect(after).not.toBe(before);

      await page.click(`${hook('cart-line')}[data-sku="POT-CAST"] ${hook('remove')}`);
      await page.waitForSelector(`${hook('cart-line')}[data-sku="POT-CAST"]`, { state: 'detached' });
      await waitForText(hook('cart-total'), '$13.00');

      // Revoke the phone from the page: it is logged out on every replica.
      await page.click(`${hook('session')}[data-current="false"] ${hook('revoke')}`);
      await page.waitForSelector(`${hook('session')} >> nth=1`, { state: 'detached' });
      for (let i = 0; i < 3; i++) expect((await phone.get('/api/auth/me')).status).toBe(401);
      // The page's live list has the revocation, among alice's own events only.
      await page.waitForSelector(`${hook('event')}[data-type="revoked"]`);
      const events = await page.locator(hook('event')).allTextContents();
      expect(events.filter((line) => / · user (?!1(?!\d))/.test(line))).toEqual([]);

      await page.click(hook('logout'));
      await waitForText(hook('user'), '');
      await page.waitForSelector(hook('login-submit'), { state: 'visible' });
      await waitForText(hook('cart-total'), '$0.00');
      await page.screenshot({ path: join(ARTIFACTS, 'shop-logged-out.png') });
    });

    it('keeps a second tab live: the cart follows the first tab, the session list follows another browser, and logging out in one signs the other out', async () => {
      const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
      const [first, second] = [await context.newPage(), await context.newPage()];
      try {
        const textIn = async (tab: Page, selector: string) => ((await tab.textContent(selector)) ?? '').trim();
        const waitIn = (tab: Page, selector: string, expected: string) =>
          tab.waitForFunction(([sel, want]) => ((globalThis as unknown as PageGlobals).document.querySelector(sel)?.textContent ?? '').trim() === want, [
            selector,
            expected,
          ] as const);
        await first.goto(shop.url);
        await first.fill(hook('login-username'), 'bob');
        await first.fill(hook('login-password'), 'builder');
        await first.click(hook('login-submit'));
        await waitIn(first, hook('user'), 'bob');
        await second.goto(shop.url);
        await waitIn(second, hook('user'), 'bob');
        await waitIn(first, hook('live'), 'on');
        await waitIn(second, hook('live'), 'on');

        // An addition in the first tab appears in the second without a reload.
        await first.click(`${hook('product')}[data-sku="TEA-EARL"] ${hook('add')}`);
        await waitIn(second, lineQty('TEA-EARL'), '1');
        await second.click(`${hook('product')}[data-sku="TEA-EARL"] ${hook('add')}`);
        await waitIn(first, lineQty('TEA-EARL'), '2');
        expect(await textIn(second, hook('cart-total'))).toBe(await textIn(first, hook('cart-total')));
        await second.screenshot({ path: join(ARTIFACTS, 'shop-second-tab.png') });

        // Another browser of bob's logs in, then out: the first tab's session list follows without a reload.
        type ListGlobals = { document: { querySelectorAll(selector: string): { length: number } } };
        const sessionsShown = (tab: Page, count: number) =>
          tab.waitForFunction(([sel, want]) => (globalThis as unknown as ListGlobals).document.querySelectorAll(sel).length === want, [
            hook('session'),
            count,
          ] as const);
        // (bob may have sessions from earlier tests: the list is counted, then followed.)
        const before = await first.locator(hook('session')).count();
        expect(before).toBeGreaterThanOrEqual(1);
        const elsewhere = await browser.newContext();
        try {
          const other = await elsewhere.newPage();
          await other.goto(shop.url);
          await other.fill(hook('login-username'), 'bob');
          await other.fill(hook('login-password'), 'builder');
          await other.click(hook('login-submit'));
          await sessionsShown(first, before + 1);
          await other.click(hook('logout'));
          await sessionsShown(first, before);
        } finally {
          await elsewhere.close();
        }

        // Logging out in the first tab signs the second out too, and its channel comes back anonymous.
        await first.click(hook('logout'));
        await waitIn(second, hook('user'), '');
        await second.waitForSelector(hook('login-submit'), { state: 'visible' });
        await waitIn(second, hook('live'), 'on');
      } finally {
        await context.close();
      }
    });

    it("shows the operations panel: every replica's figures, the active sessions and a chart", async () => {
      await page.goto(shop.url);
      type OpsGlobals = { document: { querySelectorAll(selector: string): { length: number } } };
      // Each round polls /metrics once per replica through the balancer; the page's own requests
      // shift the turns, so every replica shows up within a few rounds.
      await page.waitForFunction(
        (count) => (globalThis as unknown as OpsGlobals).document.querySelectorAll('#ops-replicas tr').length === count,
        shop.replicaIds.length,
        { timeout: 20_000 },
      );
      expect(Number(await text(hook('ops-active')))).toBeGreaterThanOrEqual(1); // alice's sessions, at least
      expect(await page.locator('#ops-chart canvas').count()).toBeGreaterThan(0);
      await page.screenshot({ path: join(ARTIFACTS, 'shop-operations.png'), fullPage: true });
    });
  });
}
