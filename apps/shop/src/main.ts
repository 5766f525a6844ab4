import { Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { SHOP_CONFIG, type ShopConfig } from './config/shop-config';
import { createShopApp } from './create-shop-app';

async function main(): Promise<void> {
  const app = await createShopApp();
  // SIGTERM/SIGINT close the Redis connection and the HTTP server before the process ends.
  app.enableShutdownHooks();
  const { port, replicaId } = app.get(ConfigService).getOrThrow<ShopConfig>(SHOP_CONFIG);
  await app.listen(port);
  new Logger('Shop').log(`Replica ${replicaId} listening on ${await app.getUrl()}`);
}

main().catch((error: unknown) => {
  // A configuration error is the usual cause: its message names the variable, which is all one needs.
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
