// A plain Express app (no Nest installed) with the store from `nest-redis-session/store`, as the
// library README shows it, on the express-session range the app pinned itself (1.17), beside the
// copy npm nests for the library. Compiled with strict TypeScript against the packed package.
import express, { type ErrorRequestHandler } from 'express';
import session from 'express-session';
import Redis from 'ioredis';
import { RedisSessionStore, SessionTooLargeError, type RedisSessionStoreOptions } from 'nest-redis-session/store';

declare module 'express-session' {
  interface SessionData {
    views?: number;
    note?: string;
  }
}

const client = new Redis(process.env.REDIS_URL!);
const options: RedisSessionStoreOptions = { client, maxSessionBytes: 1_024 };
const app = express();
app.use(express.json());
app.use(
  session({
    store: new RedisSessionStore(options),
    secret: process.env.SESSION_SECRET!,
    name: 'sid',
    resave: false,
    saveUninitialized: false,
  }),
);

app.get('/visits', (req, res) => {
  res.json({ views: req.session.views ?? 0, note: req.session.note ?? null });
});

// Saved by express-session at the end of the response.
app.post('/visits', (req, res) => {
  req.session.views = (req.session.views ?? 0) + 1;
  res.json({ views: req.session.views });
});

// Saved before answering, as express-session advises when the answer depends on the save: a save
// the store refuses fails the request through the error handler.
app.post('/note', (req, res, next) => {
  req.session.note = String((req.body as { note?: unknown }).note);
  req.session.save((error) => (error ? next(error) : res.json({ saved: true })));
});

const onError: ErrorRequestHandler = (error: Error, _req, res, _next) => {
  res.status(error instanceof SessionTooLargeError ? 413 : 500).json({ error: error.name });
};
app.use(onError);

const server = app.listen(Number(process.env.PORT), '127.0.0.1', () => console.log(`listening on ${process.env.PORT}`));
process.on('SIGTERM', () => server.close(() => void client.quit()));
