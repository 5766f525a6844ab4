import type { Socket } from 'socket.io-client';
import { Visitor } from '../../session/support/http-client';
import type { RunningApp } from '../../session/support/session-app';
import { askIo, connectIo } from './socket-clients';

/** A visitor logged in as `id` through the first replica: the session every replica of `apps` shares. */
export async function loginOn(apps: RunningApp[], id: string): Promise<Visitor> {
  const visitor = new Visitor(apps[0].url);
  const res = await visitor.post('/login', { id });
  if (res.status !== 200) throw new Error(`login of ${id} answered ${res.status}`);
  return visitor;
}

/**
 * One socket of the visitor's session on each replica, each checked to answer for its user before it
 * is returned; every socket is also pushed to `opened`, which the suite closes at its end.
 */
export async function socketOnEach(apps: RunningApp[], visitor: Visitor, opened: Socket[]): Promise<Socket[]> {
  const sockets = await Promise.all(apps.map((app) => connectIo(app.url, { cookie: visitor.cookie })));
  opened.push(...sockets);
  for (const socket of sockets) {
    const answer = await askIo<{ user?: { id?: unknown } }>(socket, 'whoami');
    if (typeof answer?.user?.id !== 'string') throw new Error(`a socket of the session answered whoami with ${JSON.stringify(answer)}`);
  }
  return sockets;
}
