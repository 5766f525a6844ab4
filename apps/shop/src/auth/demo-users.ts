/** A user of the shop as stored: never the password itself, only its scrypt hash. */
export interface StoredUser {
  id: number;
  username: string;
  passwordHash: string;
}

/**
 * The two demo users: alice / wonderland and bob / builder (the passwords are in the README, so a
 * newcomer can log in; the code keeps only their hashes, as a real user store would).
 */
export const DEMO_USERS: readonly StoredUser[] = [
  { id: 1, username: 'alice', passwordHash: 'scrypt$16384$8$1$gUd7tdgTVaDcC2V8pzHn2Q$Cf4TsTnhHP-p1QdUsQfXnqe5DWP8k_GVc03J7c5z0VQ' },
  { id: 2, username: 'bob', passwordHash: 'scrypt$16384$8$1$dIE1uNMXilMCBviMBeEKfQ$SA2lKbDqFYWv_WEgXUn7qPPRgp3U2pd6HIpsMTnI5RU' },
];
