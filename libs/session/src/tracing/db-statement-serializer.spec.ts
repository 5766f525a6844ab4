import { dbStatementSerializer } from './db-statement-serializer';

describe('dbStatementSerializer', () => {
  it('keeps the script hash and key count of EVALSHA, never its keys or arguments', () => {
    const sha = 'a'.repeat(40);
    expect(dbStatementSerializer('evalsha', [sha, 1, 'sess:digest', 'patch', '{"cart":["x"]}'])).toBe(`EVALSHA ${sha} 1 ? ? ?`);
  });

  it('never copies a script body or its arguments for EVAL', () => {
    expect(dbStatementSerializer('eval', ['return 1', '1', 'sess:d', 'token'])).toBe('EVAL <script> 1 ? ?');
  });

  it('names other commands and counts their arguments (keys embed digests and user ids)', () => {
    expect(dbStatementSerializer('zrange', ['sess:user:ada', '+inf', '-inf', 'BYSCORE', 'REV'])).toBe('ZRANGE ? ? ? ? ?');
    expect(dbStatementSerializer('ping', [])).toBe('PING');
  });
});
