/**
 * Errors of the appliance's services. The code is stable (the API's problem `code`); the message is for people.
 * The API maps codes to HTTP statuses; the services know nothing of HTTP.
 */
export type ApplianceErrorCode =
  | 'VALIDATION_FAILED'
  | 'UNAUTHENTICATED'
  | 'INVALID_CREDENTIALS'
  | 'SESSION_EXPIRED'
  | 'FORBIDDEN'
  | 'CSRF_REQUIRED'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'LAST_ADMINISTRATOR'
  | 'PRECONDITION_FAILED'
  | 'IDEMPOTENCY_KEY_REUSED'
  | 'IDEMPOTENCY_IN_PROGRESS'
  | 'TOO_MANY_ATTEMPTS'
  | 'BUSY'
  | 'DATA_DIR_LOCKED'
  | 'DATA_DIR_UNUSABLE'
  | 'NO_ADMINISTRATOR'
  | 'CATALOG'
  | 'CATALOG_UNUSABLE'
  | 'SECRET_MISMATCH'
  | 'SECRET_DAMAGED';

export class ApplianceError extends Error {
  override name = 'ApplianceError';
  constructor(
    readonly code: ApplianceErrorCode,
    message: string,
    options?: {
      cause?: unknown;
      retryAfterSeconds?: number;
      /** VALIDATION_FAILED: each wrong field (the API's problem `errors`). */
      errors?: Array<{ path: string; message: string }>;
    },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.retryAfterSeconds = options?.retryAfterSeconds;
    this.errors = options?.errors;
  }
  readonly retryAfterSeconds: number | undefined;
  readonly errors: Array<{ path: string; message: string }> | undefined;
}

export function isApplianceError(err: unknown): err is ApplianceError {
  return err instanceof ApplianceError;
}
