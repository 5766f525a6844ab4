import type { RequestHandler } from 'express';
import type { Counter, Registry } from 'prom-client';

/** Counts every answered request in `shop_http_requests_total`, static files and errors included. */
export function countRequests(registry: Registry): RequestHandler {
  const counter = registry.getSingleMetric('shop_http_requests_total') as Counter<'method' | 'status'>;
  return (req, res, next) => {
    res.once('finish', () => counter.labels(req.method, String(res.statusCode)).inc());
    next();
  };
}
