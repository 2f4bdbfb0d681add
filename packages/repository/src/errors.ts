/**
 * Typed errors of the repository. Each has a stable code (for scripts and the API) and a human message that
 * says what is wrong and what to do; causes are kept, never swallowed.
 */
export type RepositoryErrorCode =
  | 'REPO_NOT_FOUND' // no repository at the location
  | 'REPO_EXISTS' // init over an existing repository
  | 'REPO_VERSION' // a format version this build cannot read
  | 'REPO_CORRUPT' // an object fails authentication, parsing or size checks
  | 'WRONG_PASSWORD' // no key slot opens with the given secret
  | 'KEY_SLOT' // key slot management refused (last slot, unknown slot)
  | 'NOT_FOUND' // restore point, disk or object missing
  | 'AMBIGUOUS' // an id prefix matches several restore points
  | 'INVALID_ARGUMENT' // caller input is wrong
  | 'STORE_FULL' // no space left on the store
  | 'STORE_IO' // any other I/O failure of the store
  | 'OBJECT_EXISTS' // a write-once object already exists
  | 'SOURCE_IO' // reading the image being backed up failed
  | 'INTERRUPTED' // the caller aborted the operation (a signal)
  | 'LEASE_HELD' // another process holds the maintenance lease
  | 'LEASE_LOST' // our maintenance lease lapsed and another process took over
  | 'CACHE_IO'; // the local index cache (a folder on this machine) cannot be read or written

/**
 * Marks repository errors across copies of this module (a store adapter built against another copy of the
 * package, or source and build loaded side by side in tests), where instanceof would say no.
 */
const BRAND = Symbol.for('lifeboat.RepositoryError');

export class RepositoryError extends Error {
  readonly [BRAND] = true;
  constructor(
    readonly code: RepositoryErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'RepositoryError';
  }
}

export function isRepositoryError(err: unknown, code?: RepositoryErrorCode): err is RepositoryError {
  return (
    typeof err === 'object' &&
    err !== null &&
    (err as { [BRAND]?: unknown })[BRAND] === true &&
    (code === undefined || (err as RepositoryError).code === code)
  );
}

/** Throws INTERRUPTED when the signal was aborted: long loops call it between steps. */
export function checkAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted)
    throw new RepositoryError('INTERRUPTED', `${what} was interrupted; nothing of it was kept`);
}
