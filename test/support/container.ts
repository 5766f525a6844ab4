import { hostMemo } from './host-process';
import { answersPing, waitUntil } from './probe';

/** The image the tests run on where Docker answers: `REDIS_TEST_IMAGE=valkey/valkey:8.1` picks another engine. */
const IMAGE = process.env.REDIS_TEST_IMAGE || 'redis:7-alpine';
const DETECT_TIMEOUT_MS = 3_000;
const STOP_TIMEOUT_S = 5;

/**
 * Asks testcontainers for a Docker engine, giving up after `timeoutMs`: on a
 * machine with only the docker CLI the answer has to come back fast because
 * every startRedis() call waits for it.
 */
export async function probeDocker(timeoutMs = DETECT_TIMEOUT_MS): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const gaveUp = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
  const answered = import('testcontainers')
    .then(({ getContainerRuntimeClient }) => getContainerRuntimeClient())
    .then(
      () => true,
      () => false,
    );
  try {
    return await Promise.race([answered, gaveUp]);
  } finally {
    clearTimeout(timer);
  }
}

const dockerMemo = hostMemo('docker-available');
let pending: Promise<boolean> | undefined;

/** probeDocker(), asked once per process (the answer is shared by all test files of a jest worker). */
export function dockerAvailable(): Promise<boolean> {
  const known = dockerMemo.get();
  if (typeof known === 'boolean') return Promise.resolve(known);
  pending ??= probeDocker().then((available) => {
    dockerMemo.set(available);
    return available;
  });
  return pending;
}

export interface RedisContainer {
  host: string;
  port: number;
  interrupt(): Promise<void>;
  resume(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Binds the container to a fixed host port because Docker keeps a fixed
 * binding across stop/start, while a random one would change on resume.
 * Append-only persistence lives in the image's /data volume, which also
 * survives stop/start.
 */
export async function startRedisContainer(hostPort: number): Promise<RedisContainer> {
  const { GenericContainer, Wait, getContainerRuntimeClient } = await import('testcontainers');
  const started = await new GenericContainer(IMAGE)
    // Flags only: the image's entrypoint prepends its own server (redis-server or valkey-server).
    .withCommand(['--appendonly', 'yes', '--save', ''])
    .withExposedPorts({ container: 6379, host: hostPort })
    .withWaitStrategy(Wait.forLogMessage('Ready to accept connections'))
    .start();
  const runtime = await getContainerRuntimeClient();
  const raw = runtime.container.getById(started.getId());
  const host = started.getHost();
  let running = true;
  let removed = false;

  return {
    host,
    port: hostPort,
    async interrupt() {
      if (!running) return;
      await runtime.container.stop(raw, { timeout: STOP_TIMEOUT_S });
      running = false;
    },
    async resume() {
      if (removed) throw new Error('This Redis container was stopped for good; start a new one');
      if (!running) {
        await runtime.container.start(raw);
        running = true;
      }
      await waitUntil(`Redis container on ${host}:${hostPort} to answer PING`, () => answersPing(host, hostPort));
    },
    async stop() {
      if (removed) return;
      removed = true;
      if (running) await started.stop({ remove: true, removeVolumes: true });
      else await runtime.container.remove(raw, { removeVolumes: true });
    },
  };
}
