import { Logger } from '@nestjs/common';
import { ShopEnvironment } from './config/shop-environment';
import { createShopApp } from './create-shop-app';

async function main(): Promise<void> {
  const app = await createShopApp();
  // SIGTERM/SIGINT close the Redis connection and the HTTP server before the process ends.
  app.enableShutdownHooks();
  const { PORT, REPLICA_ID } = app.get(ShopEnvironment);
  await app.listen(PORT);
  new Logger('Shop').log(`Replica ${REPLICA_ID} listening on ${await app.getUrl()}`);
}

main().catch((error: unknown) => {
  // A configuration error is the usual cause: its message names the variable, which is all one needs.
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
