import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onHostExit } from './host-process';

const releases = new Map<string, () => void>();

/** A fresh folder under the OS temp dir, removed on process exit if nobody removes it earlier. */
export async function makeTempDir(label: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `redis-harness-${label}-`));
  releases.set(
    dir,
    onHostExit(() => rmSync(dir, { recursive: true, force: true })),
  );
  return dir;
}

export async function removeTempDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  releases.get(dir)?.();
  releases.delete(dir);
}
