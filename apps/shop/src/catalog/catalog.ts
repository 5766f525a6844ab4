/** One product for sale; `price` is in cents so that totals add up exactly. */
export interface Product {
  sku: string;
  name: string;
  price: number;
}

/** The shop's whole catalog. Fixed in code: the sample is about sessions, not inventory. */
export const CATALOG: readonly Product[] = Object.freeze(
  [
    { sku: 'TEA-EARL', name: 'Earl Grey tea, 100 g', price: 650 },
    { sku: 'TEA-MINT', name: 'Moroccan mint tea, 100 g', price: 590 },
    { sku: 'MUG-WHITE', name: 'White porcelain mug', price: 1200 },
    { sku: 'POT-CAST', name: 'Cast-iron teapot, 0.8 l', price: 4500 },
    { sku: 'CUP-HATTER', name: "Hatter's teacup and saucer", price: 1850 },
    { sku: 'JAM-TART', name: 'Strawberry jam for tarts, 250 g', price: 475 },
    { sku: 'BISC-BUTTER', name: 'Butter biscuits, tin of 24', price: 799 },
    { sku: 'WATCH-POCKET', name: 'Pocket watch, always late', price: 8900 },
    { sku: 'HAMMER-CLAW', name: 'Claw hammer, 16 oz', price: 2399 },
    { sku: 'LEVEL-SPIRIT', name: 'Spirit level, 60 cm', price: 1649 },
  ].map((product) => Object.freeze(product)),
);

const BY_SKU = new Map(CATALOG.map((product) => [product.sku, product]));

/** The product with this SKU, or undefined when the catalog has none. */
export function findProduct(sku: string): Product | undefined {
  return BY_SKU.get(sku);
}

/** Every SKU of the catalog, for validating input. */
export const SKUS: readonly string[] = CATALOG.map((product) => product.sku);
