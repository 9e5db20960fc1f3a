/**
 * A problem with the user's input (bad flag, malformed file, missing dataset...).
 * The CLI prints its one-line message and exits with code 1; anything else is an internal error (exit 2).
 */
export class UserError extends Error {
  override name = 'UserError';
}

/** Throws a UserError unless `condition` holds. */
export function ensure(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) throw new UserError(typeof message === 'function' ? message() : message);
}
