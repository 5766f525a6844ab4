import { Injectable } from '@nestjs/common';
import { DEMO_USERS, type StoredUser } from './demo-users';
import { DECOY_HASH, verifyPassword } from './password';
import type { ShopUser } from './shop-user';

/** Finds users and checks their passwords. */
@Injectable()
export class UserDirectory {
  private readonly byUsername = new Map<string, StoredUser>(DEMO_USERS.map((user) => [user.username, user]));

  /**
   * The user when the username exists and the password matches, else null. An unknown username still
   * costs one scrypt, against a decoy hash, so the two failures take the same time.
   */
  async verify(username: string, password: string): Promise<ShopUser | null> {
    const user = this.byUsername.get(username);
    const matches = await verifyPassword(password, user?.passwordHash ?? DECOY_HASH);
    return user && matches ? { id: user.id, username: user.username } : null;
  }
}
