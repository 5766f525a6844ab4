import { setTimeout as delay } from 'node:timers/promises';
import { ShopClient } from '../../shop/support/shop-client';
import { figuresOf, startLoad, type FaultFigures, type Sample } from '../../support/load';

const SKUS = ['TEA-EARL', 'TEA-MINT', 'MUG-WHITE', 'POT-CAST', 'CUP-HATTER', 'JAM-TART', 'BISC-BUTTER', 'WATCH-POCKET'];

/** What one fault did to a cart load on the real shop: the figures, and what was lost. */
export interface ScenarioResult extends FaultFigures {
  scenario: string;
  /** Clients whose session was gone afterwards (empty cart or a new cookie, though additions were acknowledged). */
  sessionsLost: number;
  /** Acknowledged (201) additions missing from the carts afterwards. */
  acknowledgedLost: number;
  /** Additions found in carts beyond those acknowledged: ones whose answer was lost (allowed, up to the failed count). */
  unacknowledgedApplied: number;
  /** Ms from the fault to the first 201 after the first failure (0 when nothing failed). */
  firstSuccessAfterFailureMs: number;
  recovered: boolean;
}

/**
 * Runs cart additions from `clientCount` anonymous shoppers over `concurrency` parallel loops, applies
 * `fault` after a warm-up, waits for `recovered`, goes on for `afterMs`, then checks every cart.
 */
export async function runCartScenario(options: {
  scenario: string;
  url: string;
  boundMs: number;
  fault: () => Promise<void>;
  recovered: () => Promise<void>;
  clientCount?: number;
  concurrency?: number;
  warmupMs?: number;
  afterMs?: number;
}): Promise<ScenarioResult> {
  const clientCount = options.clientCount ?? 12;
  const clients = Array.from({ length: clientCount }, (_, i) => new ShopClient(options.url, `fault-client-${i}`));
  const acked = clients.map(() => new Map<string, number>());
  const unanswered = clients.map(() => new Map<string, number>());
  // The warm-up waits (up to 15 s) for the shop to answer: an earlier scenario's after-effects are
  // counted and printed, not blamed on this one.
  let warmupFailures = 0;
  const warmupDeadline = Date.now() + 15_000;
  for (const [i, client] of clients.entries()) {
    for (;;) {
      const first = client.csrfToken ? await client.post('/api/cart/items', { sku: SKUS[0], qty: 1 }) : await client.get('/api/csrf');
      if (first.status === 200 && !client.csrfToken) client.csrfToken = first.body.csrfToken;
      else if (first.status === 201) break;
      else if (Date.now() > warmupDeadline) throw new Error(`warm-up answered ${first.status}: ${JSON.stringify(first.body)}`);
      else {
        warmupFailures++;
        await delay(100);
      }
    }
    acked[i].set(SKUS[0], 1);
  }
  if (warmupFailures) console.log(`${options.scenario}: ${warmupFailures} warm-up request(s) failed before the shop answered again`);
  const cookies = clients.map((client) => client.cookie);

  const load = startLoad({
    concurrency: options.concurrency ?? 6,
    maxRequests: 20_000,
    pauseMs: 5,
    request: async (n) => {
      const i = n % clientCount;
      const sku = SKUS[(n * 7 + i) % SKUS.length];
      try {
        const res = await clients[i].post('/api/cart/items', { sku, qty: 1 });
        const tally = res.status === 201 ? acked[i] : unanswered[i];
        tally.set(sku, (tally.get(sku) ?? 0) + 1);
        return { status: res.status, label: res.status === 201 ? '' : String(res.body?.message ?? res.body).slice(0, 120) };
      } catch (error) {
        unanswered[i].set(sku, (unanswered[i].get(sku) ?? 0) + 1);
        throw error;
      }
    },
  });
  await delay(options.warmupMs ?? 1_000);
  const faultAt = load.now();
  await options.fault();
  await options.recovered();
  await delay(options.afterMs ?? 3_000);
  const samples = await load.stop();

  let sessionsLost = 0;
  let acknowledgedLost = 0;
  let unacknowledgedApplied = 0;
  for (const [i, client] of clients.entries()) {
    const cart = await client.get<{ items: { sku: string; qty: number }[] }>('/api/cart');
    const quantities = new Map((cart.body.items ?? []).map((line) => [line.sku, line.qty]));
    if (client.cookie !== cookies[i] || quantities.size === 0) sessionsLost++;
    for (const sku of SKUS) {
      const have = quantities.get(sku) ?? 0;
      const want = acked[i].get(sku) ?? 0;
      acknowledgedLost += Math.max(0, want - have);
      unacknowledgedApplied += Math.max(0, have - want);
    }
  }
  const figures = figuresOf(samples, faultAt, options.boundMs);
  return {
    scenario: options.scenario,
    ...figures,
    sessionsLost,
    acknowledgedLost,
    unacknowledgedApplied,
    firstSuccessAfterFailureMs: firstSuccessAfterFailure(samples, faultAt),
    recovered: samples.filter((s) => s.at > load.now() - 1_000).every((s) => s.status === 201),
  };
}

function firstSuccessAfterFailure(samples: Sample[], faultAt: number): number {
  const failed = samples.filter((s) => s.status !== 201 && s.at + s.ms >= faultAt);
  if (failed.length === 0) return 0;
  const firstFailureEnd = Math.min(...failed.map((s) => s.at + s.ms));
  const success = samples.filter((s) => s.status === 201 && s.at + s.ms > firstFailureEnd).map((s) => s.at + s.ms);
  return success.length ? Math.round(Math.min(...success) - faultAt) : -1;
}
