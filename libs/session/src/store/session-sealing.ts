import { messages } from '../errors/session.messages';
import type { ResolvedEncryption } from '../options/resolved-storage-options';
import { FieldSealer } from './field-sealer';
import { UnopenableSessionError, openField, type Sealing } from './session-codec';

/** Sessions remembered as already logged for values that do not open; the set starts afresh past this. */
const MAX_REPORTED_UNOPENABLE = 10_000;

/**
 * Session values sealed at rest under the `encryption` option, or passed through without it, and the
 * one log line per session whose values do not open (a replayed cookie must not flood the log).
 */
export class SessionSealing {
  /** Undefined when `encryption` is off. */
  readonly sealer: FieldSealer | undefined;
  private readonly reportedUnopenable = new Set<string>();

  constructor(
    encryption: ResolvedEncryption | undefined,
    private readonly digestOfKey: (redisKey: string) => string,
    private readonly logger: Pick<Console, 'warn'>,
  ) {
    this.sealer = encryption && new FieldSealer(encryption);
  }

  /** What the codec needs to seal and open this session's values; undefined without encryption. */
  sealingFor(redisKey: string): Sealing | undefined {
    return this.sealer && { sealer: this.sealer, redisKey };
  }

  /** The string Redis is to hold for a field's JSON: sealed under `encryption`, the JSON itself otherwise. */
  sealValue(redisKey: string, field: string, json: string | undefined): string | undefined {
    return json === undefined || !this.sealer ? json : this.sealer.seal(redisKey, field, json);
  }

  /** The JSON of a field as Redis holds it, opened under `encryption`; throws `UnopenableSessionError` (logged once) when it does not open. */
  openValue(redisKey: string, field: string, held: string | undefined): string | undefined {
    if (held === undefined || !this.sealer) return held;
    try {
      return openField({ sealer: this.sealer, redisKey }, field, held);
    } catch (error) {
      if (error instanceof UnopenableSessionError) this.ignoreUnopenable(redisKey, error.message);
      throw error;
    }
  }

  /** A session whose values do not open is no session; logged the first time only (per process, bounded memory). */
  ignoreUnopenable(redisKey: string, reason: string): null {
    if (this.firstReport(redisKey)) this.logger.warn(messages.unopenableValue(this.digestOfKey(redisKey), reason));
    return null;
  }

  /**
   * A value a request's read left sealed that did not open once reached (it does not authenticate:
   * tampered with, or copied): the key reads as absent; logged as `ignoreUnopenable` is, once per session.
   */
  ignoreUnopenableKey(redisKey: string, key: string, reason: string): void {
    if (this.firstReport(redisKey)) this.logger.warn(messages.unopenableKeyValue(this.digestOfKey(redisKey), key, reason));
  }

  private firstReport(redisKey: string): boolean {
    if (this.reportedUnopenable.has(redisKey)) return false;
    if (this.reportedUnopenable.size >= MAX_REPORTED_UNOPENABLE) this.reportedUnopenable.clear();
    this.reportedUnopenable.add(redisKey);
    return true;
  }
}
