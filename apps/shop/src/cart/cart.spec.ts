import { CATALOG } from '../catalog/catalog';
import { addToCart, removeFromCart, viewCart } from './cart';

const [tea, mug] = CATALOG;

describe('cart lines', () => {
  it('adds a new line at the end, then adds to it', () => {
    const once = addToCart(undefined, tea.sku, 2);
    const twice = addToCart(addToCart(once, mug.sku, 1), tea.sku, 3);
    expect(twice).toEqual([
      { sku: tea.sku, qty: 5 },
      { sku: mug.sku, qty: 1 },
    ]);
    expect(once).toEqual([{ sku: tea.sku, qty: 2 }]); // the input is left alone
  });

  it('removes a line, and tells when there is none to remove', () => {
    const lines = [
      { sku: tea.sku, qty: 1 },
      { sku: mug.sku, qty: 4 },
    ];
    expect(removeFromCart(lines, tea.sku)).toEqual([{ sku: mug.sku, qty: 4 }]);
    expect(removeFromCart(lines, 'NOPE')).toBeUndefined();
    expect(removeFromCart(undefined, tea.sku)).toBeUndefined();
  });

  it('shows names and prices from the catalog and a total in cents, dropping products that left it', () => {
    const view = viewCart([
      { sku: tea.sku, qty: 3 },
      { sku: 'RETIRED', qty: 1 },
      { sku: mug.sku, qty: 1 },
    ]);
    expect(view).toEqual({
      items: [
        { sku: tea.sku, name: tea.name, price: tea.price, qty: 3 },
        { sku: mug.sku, name: mug.name, price: mug.price, qty: 1 },
      ],
      total: 3 * tea.price + mug.price,
    });
    expect(viewCart(undefined)).toEqual({ items: [], total: 0 });
  });

  it('has a catalog of at least 8 products with unique SKUs and whole-cent prices', () => {
    expect(CATALOG.length).toBeGreaterThanOrEqual(8);
    expect(new Set(CATALOG.map((p) => p.sku)).size).toBe(CATALOG.length);
    for (const product of CATALOG) expect(Number.isInteger(product.price) && product.price > 0).toBe(true);
  });
});
