import { Injectable } from '@nestjs/common';

export interface User {
  id: string;
  username: string;
}

const USERS = [
  { id: 'u1', username: 'ada', password: 'lovelace' },
  { id: 'u2', username: 'alan', password: 'turing' },
];

/** A stand-in for the app's user store. */
@Injectable()
export class UsersService {
  check(username: string, password: string): User | undefined {
    const user = USERS.find((u) => u.username === username && u.password === password);
    return user && { id: user.id, username: user.username };
  }

  find(id: string): User | undefined {
    const user = USERS.find((u) => u.id === id);
    return user && { id: user.id, username: user.username };
  }
}
