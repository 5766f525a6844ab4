import { io, type Socket } from 'socket.io-client';
import { WebSocket, type RawData } from 'ws';

/** What a socket client sends at its handshake: the browser's cookie and Origin, or a token in `auth`; other headers. */
export interface HandshakeWith {
  cookie?: string;
  origin?: string;
  /** Sent as socket.io's `auth.token`; any value, as a client may send one. */
  token?: unknown;
  headers?: Record<string, string>;
}

/** A socket.io client on namespace `/t` over the websocket transport; rejects with the `connect_error`. */
export function connectIo(url: string, { cookie, origin, token, headers }: HandshakeWith = {}): Promise<Socket> {
  const extraHeaders: Record<string, string> = { ...headers };
  if (cookie) extraHeaders.cookie = cookie;
  if (origin) extraHeaders.origin = origin;
  const socket = io(`${url}/t`, { transports: ['websocket'], extraHeaders, auth: token !== undefined ? { token } : {}, reconnection: false, forceNew: true });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (error) => {
      socket.close();
      reject(error);
    });
  });
}

/** Sends an event and waits for the gateway's answer (a reply of the same name) or its error frame. */
export function askIo<T = unknown>(socket: Socket, event: string, data?: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    const onReply = (reply: T) => {
      socket.off('exception', onError);
      resolve(reply);
    };
    const onError = (error: unknown) => {
      socket.off(event, onReply);
      reject(Object.assign(new Error('exception frame'), { frame: error }));
    };
    socket.once(event, onReply);
    socket.once('exception', onError);
    socket.emit(event, data);
  });
}

/** The `session:ended` reason a socket heard, once it was also disconnected (and why). */
export function endOfIo(socket: Socket): Promise<{ reason: string; disconnect: string }> {
  return new Promise((resolve) => {
    let reason = '(none)';
    socket.once('session:ended', (body: { reason: string }) => (reason = body.reason));
    socket.once('disconnect', (disconnect) => resolve({ reason, disconnect }));
  });
}

/** A `ws` client on path `/ws`; resolves once open, rejects when the server closes it first. */
export function connectWs(url: string, { cookie, origin }: HandshakeWith = {}): Promise<WsClient> {
  const headers: Record<string, string> = {};
  if (cookie) headers.cookie = cookie;
  if (origin) headers.origin = origin;
  const socket = new WebSocket(`${url.replace(/^http/, 'ws')}/ws`, { headers });
  const client = new WsClient(socket);
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve(client));
    socket.once('close', (code, reason) => reject(Object.assign(new Error(`closed ${code}`), { code, reason: reason.toString() })));
    socket.once('unexpected-response', (_request, response) =>
      reject(Object.assign(new Error(`refused ${response.statusCode}`), { status: response.statusCode })),
    );
    socket.once('error', reject);
  });
}

/** A `ws` socket speaking Nest's `{ event, data }` frames. */
export class WsClient {
  readonly frames: { event: string; data: unknown }[] = [];
  private readonly waiting: { event: string; resolve: (data: unknown) => void }[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;

  constructor(readonly socket: WebSocket) {
    socket.on('message', (raw: RawData) => {
      const frame = JSON.parse(Buffer.isBuffer(raw) ? raw.toString() : Buffer.concat(Array.isArray(raw) ? raw : [Buffer.from(raw)]).toString()) as {
        event: string;
        data: unknown;
      };
      this.frames.push(frame);
      const index = this.waiting.findIndex((w) => w.event === frame.event);
      if (index >= 0) this.waiting.splice(index, 1)[0].resolve(frame.data);
    });
    this.closed = new Promise((resolve) => socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  ask<T = unknown>(event: string, data?: unknown): Promise<T> {
    return new Promise((resolve) => {
      this.waiting.push({ event, resolve: resolve as (data: unknown) => void });
      this.socket.send(JSON.stringify({ event, data }));
    });
  }

  close(): void {
    this.socket.close();
  }
}
