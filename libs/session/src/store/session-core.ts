import type { ResolvedStoreOptions } from '../options/resolved-storage-options';
import { SessionGateway, type WriteListener } from '../redis/session-gateway';
import { SessionObservers } from '../redis/session-observer';
import { SessionAdmin } from './session-admin';
import { SessionContext } from './session-context';
import { SessionForwarding } from './session-forwarding';
import { SessionReader } from './session-reader';
import { SessionSlides } from './session-slides';
import { SessionWriter } from './session-writer';
import type { SessionCache, UserIndexKeeper } from './store-ports';

/** The features a composition root (the module) plugs into the core; a bare store has none. */
export interface SessionCoreFeatures {
  /** The near cache, when on. */
  cache?: SessionCache;
  /** Keeps the user index in step with each save. */
  indexKeeper?: UserIndexKeeper;
}

/**
 * The persistence core of one set of sessions, one part per role, each built here with what it needs:
 * `reader` (the read path), `writer` (diff and save), `slides` (the idle timeout), `admin` (ending
 * sessions, scans), `forwarding` (renewed IDs), over one `context` (settings, gateway, observers,
 * sealing). Shared by the express-session store, the request lifecycle and `SessionService`.
 */
export class SessionCore {
  readonly gateway: SessionGateway;
  readonly reader: SessionReader;
  readonly writer: SessionWriter;
  readonly slides: SessionSlides;
  readonly admin: SessionAdmin;
  readonly forwarding: SessionForwarding;
  /** The user index's keeper, when the module has one (`SessionService.update` moves entries too). */
  readonly indexKeeper: UserIndexKeeper | undefined;

  constructor(
    readonly context: SessionContext,
    features: SessionCoreFeatures = {},
  ) {
    this.gateway = context.gateway;
    this.indexKeeper = features.indexKeeper;
    this.forwarding = new SessionForwarding(context, features.indexKeeper);
    this.slides = new SessionSlides(context, features.indexKeeper);
    this.reader = new SessionReader(context, this.slides, this.forwarding, features.indexKeeper, features.cache);
    this.writer = new SessionWriter(context, this.forwarding, features.indexKeeper);
    this.admin = new SessionAdmin(context, this.forwarding);
  }
}

/**
 * The context of a set of sessions: its gateway over the options' client, reporting to `observers`
 * and telling `writeListener` (the near cache) of every write.
 */
export function createSessionContext(options: ResolvedStoreOptions, observers = new SessionObservers(), writeListener?: WriteListener): SessionContext {
  const gateway = new SessionGateway({
    client: options.client,
    deadline: options.redisDeadline,
    pieceBytes: options.hashMaxListpackValue,
    durability: options.durability,
    logger: options.logger,
    observers,
    writeListener,
  });
  return new SessionContext(options, gateway, observers, options.logger);
}
