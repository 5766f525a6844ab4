import { DEMO_USERS } from './demo-users';
import * as password from './password';
import { DECOY_HASH, hashPassword, verifyPassword } from './password';
import { UserDirectory } from './user-directory';

describe('passwords', () => {
  it('hashes with a salt of its own each time and verifies', async () => {
    const [first, second] = await Promise.all([hashPassword('wonderland'), hashPassword('wonderland')]);
    expect(first).toMatch(/^scrypt\$16384\$8\$1\$[\w-]{22}\$[\w-]{43}$/);
    expect(first).not.toBe(second);
    await expect(verifyPassword('wonderland', first)).resolves.toBe(true);
    await expect(verifyPassword('Wonderland', first)).resolves.toBe(false);
  });

  it('keeps the demo users as hashes of their documented passwords', async () => {
    const byName = Object.fromEntries(DEMO_USERS.map((u) => [u.username, u.passwordHash]));
    await expect(verifyPassword('wonderland', byName.alice)).resolves.toBe(true);
    await expect(verifyPassword('builder', byName.bob)).resolves.toBe(true);
    expect(JSON.stringify(DEMO_USERS)).not.toMatch(/wonderland|builder/);
  });

  it('gives the decoy hash the same cost as real ones', () => {
    expect(DECOY_HASH.split('$').slice(0, 4)).toEqual(DEMO_USERS[0].passwordHash.split('$').slice(0, 4));
  });

  it('refuses a stored value that is not a hash, naming it', async () => {
    await expect(verifyPassword('x', 'plaintext')).rejects.toThrow('Not a scrypt password hash: "plaintext…"');
  });
});

describe('UserDirectory', () => {
  const users = new UserDirectory();

  it('returns the user for the right password, null for a wrong one or an unknown user', async () => {
    await expect(users.verify('alice', 'wonderland')).resolves.toEqual({ id: 1, username: 'alice' });
    await expect(users.verify('alice', 'builder')).resolves.toBeNull();
    await expect(users.verify('mallory', 'wonderland')).resolves.toBeNull();
  });

  it('spends the same work on an unknown user as on a wrong password: one check against a hash of the same cost', async () => {
    // The work is compared, not timed: one scrypt of the same cost (the decoy's cost is checked above)
    // takes the same time wherever it runs, while a stopwatch on a loaded CI machine measures the machine.
    const verify = jest.spyOn(password, 'verifyPassword');
    try {
      await users.verify('alice', 'wrong password');
      await users.verify('nobody-at-all', 'wrong password');
      expect(verify.mock.calls).toEqual([
        ['wrong password', DEMO_USERS[0].passwordHash],
        ['wrong password', DECOY_HASH],
      ]);
    } finally {
      verify.mockRestore();
    }
  });
});
