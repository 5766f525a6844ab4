import { HttpException, ServiceUnavailableException } from '@nestjs/common';
import { failureAnswer } from './failure-response';

describe('failureAnswer', () => {
  it("answers an HttpException's status with its own response body, as Nest's filter would", () => {
    const exception = new ServiceUnavailableException('Redis is down', { description: 'Service Unavailable' });
    const answer = failureAnswer(exception, new Error('the cause'));
    expect(answer.status).toBe(503);
    expect(JSON.parse(answer.body)).toEqual({ statusCode: 503, message: 'Redis is down', error: 'Service Unavailable' });
  });

  it("answers 500 in Nest's shape, with the error's message, for anything that is not an HttpException", () => {
    const answer = failureAnswer(new Error('boom'), new Error('boom'));
    expect(answer.status).toBe(500);
    expect(JSON.parse(answer.body)).toEqual({ statusCode: 500, message: 'boom', error: 'Internal Server Error' });
  });

  it("keeps an HttpException's status but builds the body when its response is a string or null", () => {
    const text = failureAnswer(new HttpException('plain text', 418), new Error('the error'));
    expect(text.status).toBe(418);
    expect(JSON.parse(text.body)).toEqual({ statusCode: 418, message: 'the error', error: 'Internal Server Error' });

    const none = failureAnswer(new HttpException(null as unknown as string, 502), new Error('nothing said'));
    expect(none.status).toBe(502);
    expect(JSON.parse(none.body)).toEqual({ statusCode: 502, message: 'nothing said', error: 'Internal Server Error' });
  });

  it('names an error that is not an Error (a string, undefined) by its string form, without throwing', () => {
    expect(JSON.parse(failureAnswer('boom', 'boom').body)).toMatchObject({ statusCode: 500, message: 'boom' });
    expect(JSON.parse(failureAnswer(undefined, undefined).body)).toMatchObject({ statusCode: 500, message: 'undefined' });
    expect(JSON.parse(failureAnswer(null, null).body)).toMatchObject({ statusCode: 500, message: 'null' });
  });
});
