import { existsSync } from 'node:fs';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/lib/chromium/chromium'];

/** Flags for a headless Chromium in a container: no sandbox (often no user namespaces), no GPU, no background traffic. */
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'];

/**
 * The system Chromium (Debian's package; playwright-core never downloads a browser here), or the one
 * CHROMIUM_PATH names. `missing` explains what was looked for when none is found.
 */
export function findChromium(): { path?: string; missing?: string } {
  const candidates = process.env.CHROMIUM_PATH ? [process.env.CHROMIUM_PATH] : CANDIDATES;
  const path = candidates.find((candidate) => existsSync(candidate));
  if (path) return { path };
  return { missing: `no Chromium at ${candidates.join(', ')} (install it with "apt-get install chromium", or set CHROMIUM_PATH)` };
}
