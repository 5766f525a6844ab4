import type { RequestHandler } from 'express';

/**
 * Names the replica in `X-Replica` on every response, errors and static files included: it is how a
 * visitor (and the tests) see that any replica serves any session.
 */
export function replicaHeader(replicaId: string): RequestHandler {
  return (_req, res, next) => {
    res.setHeader('X-Replica', replicaId);
    next();
  };
}
