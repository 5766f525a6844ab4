import type { LoggerService } from '@nestjs/common';
import type { RequestHandler } from 'express';
import { performance } from 'node:perf_hooks';

/**
 * One log line per request, written when the response is done (or the client went away): replica,
 * method, path, status and duration. The query string is left out: it may carry tokens.
 */
export function requestLog(replicaId: string, logger: LoggerService): RequestHandler {
  return (req, res, next) => {
    const started = performance.now();
    res.once('close', () => {
      const ms = (performance.now() - started).toFixed(1);
      const status = res.writableFinished ? String(res.statusCode) : `${res.statusCode} (connection closed early)`;
      logger.log(`replica=${replicaId} ${req.method} ${req.originalUrl.split('?')[0]} ${status} ${ms} ms`, 'HTTP');
    });
    next();
  };
}
