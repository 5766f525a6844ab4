/**
 * A `dbStatementSerializer` for `@opentelemetry/instrumentation-ioredis` that records which command
 * ran and how many arguments it had, never their values. The library's scripts carry session data
 * (a cart, a CSRF token) as EVALSHA/EVAL arguments, and its plain commands name keys that embed a
 * session digest or a user id; the instrumentation's default serializer would copy them into every
 * trace. EVALSHA keeps its script hash (it names the script, not the data) and the key count.
 *
 * @example
 * new IORedisInstrumentation({ dbStatementSerializer })   // "EVALSHA 3b1f… 1 ? ? ? ? ?"
 */
export function dbStatementSerializer(commandName: string, commandArgs: readonly unknown[]): string {
  const name = commandName.toUpperCase();
  const args = commandArgs ?? [];
  if ((name === 'EVALSHA' || name === 'EVAL') && args.length >= 2) {
    const script = name === 'EVALSHA' ? String(args[0]) : '<script>';
    return `${name} ${script} ${String(Number(args[1]))}${' ?'.repeat(args.length - 2)}`;
  }
  return name + ' ?'.repeat(args.length);
}
