import { isRepositoryError, type RepositoryErrorCode } from '@lifeboat/repository';
import { isApplianceError } from './appliance/errors.js';

/** A usage error of the command line, reported like commander's own. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Exit codes scripts can rely on (README.md lists them). */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  damaged: 3,
  password: 4,
  notFound: 5,
  busy: 6,
  interrupted: 130,
} as const;

const BY_CODE: Partial<Record<RepositoryErrorCode, number>> = {
  INVALID_ARGUMENT: EXIT.usage,
  AMBIGUOUS: EXIT.usage,
  REPO_CORRUPT: EXIT.damaged,
  WRONG_PASSWORD: EXIT.password,
  NOT_FOUND: EXIT.notFound,
  REPO_NOT_FOUND: EXIT.notFound,
  INTERRUPTED: EXIT.interrupted,
  LEASE_HELD: EXIT.busy,
};

/**
 * Errors of `lifeboat server` itself, by code. Matched by name and code, not by class: importing the appliance
 * package here would load SQLite and the web stack into every repository command.
 */
const SERVER_CODES: Record<string, number> = {
  DATA_DIR_LOCKED: EXIT.busy,
  NO_ADMINISTRATOR: EXIT.usage,
  NOT_FOUND: EXIT.notFound,
  VALIDATION_FAILED: EXIT.usage,
  CATALOG: EXIT.damaged,
  SECRET_DAMAGED: EXIT.damaged,
};

function serverError(err: unknown): { code: string; message: string } | undefined {
  const e = err as { name?: unknown; code?: unknown; message?: unknown };
  return e?.name === 'ApplianceError' && typeof e.code === 'string' && typeof e.message === 'string'
    ? { code: e.code, message: e.message }
    : undefined;
}

export function exitCodeOf(err: unknown): number {
  if (err instanceof UsageError) return EXIT.usage;
  if (isRepositoryError(err)) return BY_CODE[err.code] ?? EXIT.failure;
  if (isApplianceError(err)) return err.exitCode;
  const server = serverError(err);
  if (server) return SERVER_CODES[server.code] ?? EXIT.failure;
  return EXIT.failure;
}

/** One line for the user: never a stack trace (LIFEBOAT_DEBUG=1 adds it, for bug reports). */
export function describe(err: unknown): string {
  if (isRepositoryError(err)) return `error: ${err.message} [${err.code}]`;
  if (err instanceof UsageError) return `error: ${err.message}`;
  if (isApplianceError(err)) return `error: ${err.message} [${err.code}]`;
  const server = serverError(err);
  if (server) return `error: ${server.message} [${server.code}]`;
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'EPIPE') return '';
  return `error: ${e?.message ?? String(err)}`;
}
