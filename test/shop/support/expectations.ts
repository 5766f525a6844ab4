import type { ShopResponse } from './shop-client';

/** The contract's error shape: `{ statusCode, message, error }`, message a string. */
export function expectError(res: ShopResponse, status: number, message?: string | RegExp): void {
  expect({ status: res.status, body: res.body }).toEqual({
    status,
    body: { statusCode: status, message: expect.any(String), error: expect.any(String) },
  });
  if (message !== undefined) expect(res.body.message).toEqual(message instanceof RegExp ? expect.stringMatching(message) : message);
}

/** The `sid` Set-Cookie line of a response, or undefined. */
export function sidCookie(res: ShopResponse): string | undefined {
  return res.setCookies.find((line) => line.startsWith('sid='));
}
