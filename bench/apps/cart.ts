/** One line of the shop cart the bench apps keep in the session. */
export interface CartLine {
  sku: string;
  name: string;
  price: number;
  qty: number;
}

/** The user a bench login puts in the session (a type alias, so it fits the library's `SessionUser`). */
export type BenchUser = {
  id: string;
  name: string;
  email: string;
  roles: string[];
};

/**
 * The session keys the bench apps use. Not merged into express-session's `SessionData`: the shop app
 * of this monorepo declares its own `cart` there, and both are compiled together.
 */
export interface BenchSession {
  user?: BenchUser;
  cart?: CartLine[];
}

/** The three lines a seeded session holds: what "a typical session" means throughout the bench. */
export const SEED_LINES: CartLine[] = [1, 2, 3].map((n) => ({ sku: `sku-${n}`, name: `Product number ${n}`, price: 9.99 * n, qty: n }));

/** What `POST /cart/items` sends during the write scenario: a fourth product, one more each time. */
export const ADDED_LINE: CartLine = { sku: 'sku-4', name: 'Product number 4', price: 4.5, qty: 1 };

export function benchUser(id: string): BenchUser {
  return { id, name: `Bench user ${id}`, email: `${id}@shop.example`, roles: ['customer'] };
}

/**
 * Adds a line to a cart, merging it with a line of the same product. Merging keeps the cart at four
 * lines however long the write scenario runs, so every mode writes sessions of the same size.
 */
export function addLine(cart: CartLine[], line: CartLine): CartLine[] {
  const qty = Number(line.qty) || 1;
  const at = cart.findIndex((existing) => existing.sku === line.sku);
  if (at === -1) return [...cart, { sku: String(line.sku), name: String(line.name), price: Number(line.price), qty }];
  return cart.map((existing, i) => (i === at ? { ...existing, qty: existing.qty + qty } : existing));
}

/**
 * The keys `POST /prefs/:key` may set: `k0`, `k1`, … One pattern for every mode, so a request can
 * never touch the cart, the user or the cookie.
 */
export const PREF_KEY = /^k\d{1,3}$/;
