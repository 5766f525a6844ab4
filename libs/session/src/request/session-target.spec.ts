import { isContext, isSocketRequest, requestOf, SOCKET_REQUEST, SOCKET_SESSION } from './session-target';

/** A context of the given type whose handler arguments are `args`. */
function context(type: string, args: unknown[]) {
  return { getType: () => type, getArgByIndex: (index: number) => args[index] };
}

describe('requestOf', () => {
  const req = { headers: {} };

  it('finds the HTTP request as the first argument', () => {
    expect(requestOf(context('http', [req, {}]))).toBe(req);
  });

  it("finds GraphQL's request in the context object (the third argument), not the parent", () => {
    expect(requestOf(context('graphql', [{ parent: true }, {}, { req }, {}]))).toBe(req);
    expect(() => requestOf(context('graphql', [{}, {}, {}, {}]))).toThrow(/No HTTP request in this GraphQL context/);
  });

  it("finds Mercurius's request as the context's reply.request when the context has no req", () => {
    expect(requestOf(context('graphql', [{}, {}, { reply: { request: req }, app: {} }, {}]))).toBe(req);
    // `req` wins: Nest's Mercurius driver, and graphqlWsSessions / mercuriusSessions, put the session's request there.
    const other = { headers: {} };
    expect(requestOf(context('graphql', [{}, {}, { req: other, reply: { request: req } }, {}]))).toBe(other);
    expect(() => requestOf(context('graphql', [{}, {}, { reply: {} }, {}]))).toThrow(/reply\.request/);
  });

  it("finds a socket's session request, from the context or the socket itself", () => {
    const socket = { [SOCKET_SESSION]: { request: () => req } };
    expect(requestOf(context('ws', [socket, {}]))).toBe(req);
    expect(requestOf(socket)).toBe(req);
    expect(() => requestOf(context('ws', [{}, {}]))).toThrow(/withSessions/);
  });

  it('takes anything else as the request itself', () => {
    expect(requestOf(req)).toBe(req);
  });

  it('answers null or undefined as given, rather than throwing (the service lists sessions without a request)', () => {
    expect(requestOf(undefined)).toBeUndefined();
    expect(requestOf(null)).toBeNull();
  });

  it('names the missing wiring, not a TypeError, for a GraphQL context object or a socket that is absent', () => {
    expect(() => requestOf(context('graphql', [{}, {}]))).toThrow(/No HTTP request in this GraphQL context/);
    expect(() => requestOf(context('ws', [null]))).toThrow(/withSessions/);
    expect(() => requestOf(context('ws', []))).toThrow(/withSessions/);
  });
});

describe('isSocketRequest', () => {
  it("is true only for an object a socket transport marked as its handshake's or event's request", () => {
    expect(isSocketRequest({ [SOCKET_REQUEST]: true })).toBe(true);
    expect(isSocketRequest({ headers: {} })).toBe(false);
    expect(isSocketRequest({ [SOCKET_REQUEST]: 'yes' })).toBe(false);
  });
});

describe('isContext', () => {
  it('is true for an object with the getType and getArgByIndex of an execution context', () => {
    expect(isContext(context('http', []))).toBe(true);
  });

  it('is false for null, a request, or an object lacking either method', () => {
    expect(isContext(null)).toBe(false);
    expect(isContext(undefined)).toBe(false);
    expect(isContext({ headers: {} })).toBe(false);
    expect(isContext({ getType: () => 'http' })).toBe(false);
    expect(isContext({ getArgByIndex: () => undefined })).toBe(false);
    expect(isContext({ getType: 'http', getArgByIndex: () => undefined })).toBe(false);
  });
});
