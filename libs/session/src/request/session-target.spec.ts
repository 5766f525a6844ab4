import { requestOf, SOCKET_SESSION } from './session-target';

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
});
