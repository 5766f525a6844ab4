import { findProduct, type Product } from '../catalog/catalog';

/**
 * One line of the cart as the session stores it: the SKU and how many. Name and price are looked up
 * in the catalog when the cart is shown, so a price change reaches carts already filled and the
 * session stays small.
 */
export interface CartLine {
  sku: string;
  qty: number;
}

declare module 'express-session' {
  interface SessionData {
    /** The visitor's cart; absent until the first item is added. */
    cart?: CartLine[];
  }
}

/** The cart as the API answers it: each line with the product's name and price, and the total in cents. */
export interface CartView {
  items: Array<Product & { qty: number }>;
  total: number;
}

/** A new list of lines with `qty` more of `sku` (a new line at the end when the cart had none). */
export function addToCart(lines: readonly CartLine[] | undefined, sku: string, qty: number): CartLine[] {
  const next = (lines ?? []).map((line) => ({ ...line }));
  const line = next.find((candidate) => candidate.sku === sku);
  if (line) line.qty += qty;
  else next.push({ sku, qty });
  return next;
}

/** A new list of lines without `sku`; undefined when the cart has no such line. */
export function removeFromCart(lines: readonly CartLine[] | undefined, sku: string): CartLine[] | undefined {
  const current = lines ?? [];
  if (!current.some((line) => line.sku === sku)) return undefined;
  return current.filter((line) => line.sku !== sku);
}

/** Joins the lines with the catalog; a line whose product left the catalog is not shown. */
export function viewCart(lines: readonly CartLine[] | undefined): CartView {
  const items = (lines ?? []).flatMap((line) => {
    const product = findProduct(line.sku);
    return product ? [{ sku: product.sku, name: product.name, price: product.price, qty: line.qty }] : [];
  });
  return { items, total: items.reduce((sum, item) => sum + item.price * item.qty, 0) };
}
