import { Body, Controller, Post, Req, Res } from '@nestjs/common';
import { startRedis, type RedisServerHandle } from '../support/redis';
import { uniquePrefix } from '../support/prefix';
import { startSessionApp, type RunningApp } from './support/session-app';
import { Visitor } from './support/http-client';

/** What both platforms' responses offer a handler that answers by itself (`@Res()`). */
type Answering = { status(code: number): { send(body: unknown): unknown } };
type WithSession = { session: Record<string, unknown> };

@Controller('answer')
class AnswerTwiceController {
  /** Answers, then fails in some after-work (an audit call, say): Nest answers the throw with a 500 of its own. */
  @Post('send-then-throw')
  sendThenThrow(@Req() req: WithSession, @Res() res: Answering, @Body() body: { change: boolean }) {
    if (body.change) req.session.paid = true;
    res.status(200).send({ paid: true });
    throw new Error('audit log failed after the answer was sent');
  }

  @Post('send-twice')
  sendTwice(@Req() req: WithSession, @Res() res: Answering, @Body() body: { change: boolean }) {
    if (body.change) req.session.paid = true;
    res.status(200).send({ first: true });
    res.status(409).send({ second: true });
  }
}

/**
 * The first answer of a handler is the one the client gets, whether or not its session changed. While
 * the save of a changed session runs, the first answer waits for it and the response does not count as
 * sent yet, so Nest's answer to a later throw (or a second send) went out instead, with its status:
 * a 500 for a request whose change was saved. It is dropped now, and logged.
 */
describe('a second answer while the first waits for its session to be saved', () => {
  let redis: RedisServerHandle;
  let app: RunningApp;

  beforeAll(async () => {
    redis = await startRedis();
    app = await startSessionApp({ redis: redis.url, prefix: uniquePrefix('second-answer') }, [AnswerTwiceController]);
  });

  afterAll(async () => {
    await app?.close();
    await redis?.stop();
  });

  it.each([false, true])('an error after the answer leaves the answer as sent (session changed: %s)', async (change) => {
    const visitor = new Visitor(app.url);
    await visitor.post('/set/cart', { value: ['tea'] });
    const res = await visitor.post('/answer/send-then-throw', { change });
    expect({ status: res.status, body: res.body, type: res.headers.get('content-type') }).toEqual({
      status: 200,
      body: { paid: true },
      type: expect.stringMatching(/^application\/json/),
    });
    expect((await visitor.get('/whole')).body).toEqual(change ? { cart: ['tea'], paid: true } : { cart: ['tea'] });
  });

  it.each([false, true])('of two sends, the first is the answer (session changed: %s)', async (change) => {
    const visitor = new Visitor(app.url);
    await visitor.post('/set/cart', { value: ['tea'] });
    const res = await visitor.post('/answer/send-twice', { change });
    expect({ status: res.status, body: res.body }).toEqual({ status: 200, body: { first: true } });
    expect((await visitor.get('/whole')).body).toEqual(change ? { cart: ['tea'], paid: true } : { cart: ['tea'] });
  });
});
