import { DEMO_USERS } from './demo-users';
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

  it('spends about as long on an unknown user as on a wrong password', async () => {
    const time = async (username: string) => {
      const started = process.hrtime.bigint();
      for (let i = 0; i < 4; i++) await users.verify(username, 'wrong password');
      return Number(process.hrtime.bigint() - started) / 1e6;
    };
    await time('alice'); // warm up
    const [known, unknown] = [await time('alice'), await time('nobody-at-all')];
    // Both run scrypt; without the decoy an unknown user would answer in well under a millisecond.
    expect(unknown).toBeGreaterThan(known * 0.5);
  });
});
