import { existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The folder of the web page: next to the bundle once built (`dist/apps/shop/public`, copied there by
 * the nest-cli assets rule; webpack keeps `__dirname` as the bundle's folder), or `apps/shop/public`
 * when running from source (tests, ts-node), two levels up from this file.
 */
export function publicDir(): string {
  const candidates = [join(__dirname, 'public'), join(__dirname, '..', '..', 'public')];
  const found = candidates.find((dir) => existsSync(join(dir, 'index.html')));
  if (!found) throw new Error(`The shop's web page (index.html) is in none of: ${candidates.join(', ')}`);
  return found;
}
