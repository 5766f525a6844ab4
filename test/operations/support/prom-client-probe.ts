// Run as a child process (jest's module registry hides what Node's require loads): starts an app
// with or without `metrics`, serves one session request, and prints which optional modules Node loaded.
import { startSessionApp } from '../../session/support/session-app';
import { Visitor } from '../../session/support/http-client';

async function main(): Promise<void> {
  const [redisUrl, prefix, metrics] = process.argv.slice(2);
  const app = await startSessionApp({ redis: redisUrl, prefix, ...(metrics === 'on' ? { metrics: true } : {}) });
  const visitor = new Visitor(app.url);
  const status = (await visitor.post('/set/views', { value: 1 })).status;
  const loaded = Object.keys(require.cache);
  await app.close();
  const promClient = loaded.some((file) => /[\\/]node_modules[\\/]prom-client[\\/]/.test(file));
  process.stdout.write(JSON.stringify({ status, promClient }) + '\n');
}

main().catch((error) => {
  process.stderr.write(String(error?.stack ?? error));
  process.exit(1);
});
