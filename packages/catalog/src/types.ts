/**
 * The catalog's contract: what the appliance stores and how it asks for it. SQLite implements it today
 * (`openSqliteCatalog`); PostgreSQL will be the second implementation, held to the same conformance suite
 * (`catalogConformance` in test/). No SQL leaves this package.
 */

export type Role = 'administrator' | 'backup-operator' | 'restore-operator' | 'viewer';
export const ROLES: readonly Role[] = ['administrator', 'backup-operator', 'restore-operator', 'viewer'];

/** Times are ISO-8601 UTC strings with milliseconds (`new Date().toISOString()`). */
export type Timestamp = string;

export interface UserRecord {
  id: string;
  name: string;
  role: Role;
  /** Self-describing password hash (e.g. `scrypt$...`); never leaves the appliance. */
  passwordHash: string;
  /** Restore operators only: limited to instances carrying all of these tags; null = unlimited. */
  restoreTags: Record<string, string> | null;
  disabled: boolean;
  /** Starts at 1, +1 on every change: the API's ETag. */
  version: number;
  createdAt: Timestamp;
  updatedAt: Timestamp;
  passwordChangedAt: Timestamp;
}

export interface NewUser {
  id: string;
  name: string;
  role: Role;
  passwordHash: string;
  restoreTags: Record<string, string> | null;
}

export interface UserChanges {
  role?: Role;
  passwordHash?: string;
  restoreTags?: Record<string, string> | null;
  disabled?: boolean;
}

export interface Page {
  limit: number;
}

export interface UserStore {
  get(name: string): Promise<UserRecord | undefined>;
  getById(id: string): Promise<UserRecord | undefined>;
  /** Ordered by name; `after` is the last name of the previous page. */
  list(page: Page & { after?: string }): Promise<UserRecord[]>;
  /** CatalogError CONFLICT when the name is taken. */
  insert(user: NewUser, at: Timestamp): Promise<UserRecord>;
  /**
   * Applies the changes and bumps the version. `expectedVersion` undefined = unconditional.
   * CatalogError NOT_FOUND, or VERSION_MISMATCH when the stored version differs.
   * passwordChangedAt moves when passwordHash is among the changes.
   */
  update(
    id: string,
    expectedVersion: number | undefined,
    changes: UserChanges,
    at: Timestamp,
  ): Promise<UserRecord>;
  /** CatalogError NOT_FOUND / VERSION_MISMATCH as update. Removes the user's login sessions too. */
  remove(id: string, expectedVersion: number | undefined): Promise<void>;
  /** Enabled users with this role. */
  countEnabled(role: Role): Promise<number>;
  count(): Promise<number>;
}

export type LoginKind = 'token' | 'cookie';

export interface LoginSessionRecord {
  id: string;
  userId: string;
  kind: LoginKind;
  /** SHA-256 (hex) of the bearer token or cookie value: the secret itself is never stored. */
  tokenHash: string;
  /** Cookie sessions: SHA-256 (hex) of the CSRF token. */
  csrfHash: string | null;
  address: string | null;
  createdAt: Timestamp;
  expiresAt: Timestamp;
  revokedAt: Timestamp | null;
}

export interface LoginSessionStore {
  insert(session: Omit<LoginSessionRecord, 'revokedAt'>): Promise<void>;
  findByTokenHash(tokenHash: string): Promise<LoginSessionRecord | undefined>;
  revoke(id: string, at: Timestamp): Promise<void>;
  /** Returns how many were revoked. */
  revokeAllOfUser(userId: string, at: Timestamp): Promise<number>;
  /** Deletes sessions that expired or were revoked before `before`; returns how many. */
  deleteEnded(before: Timestamp): Promise<number>;
}

export type AuditOutcome = 'ok' | 'denied' | 'failed';

export interface AuditEntry {
  id: number;
  at: Timestamp;
  /** User name at the time, or null for the system (first start, migrations). */
  actor: string | null;
  address: string | null;
  /** Dotted verb, e.g. `user.create`, `auth.login`, `restore.start`. */
  action: string;
  /** What was acted on, e.g. `user/alice`. */
  target: string | null;
  outcome: AuditOutcome;
  /** The reason the actor stated (restores require one). */
  reason: string | null;
  /** Never holds secrets. */
  details: Record<string, unknown>;
}

export interface AuditQuery extends Page {
  /** Entries with an id below this (newest first paging). */
  before?: number;
  actor?: string;
  /** Exact action or a prefix ending in '.', e.g. `user.`. */
  action?: string;
  since?: Timestamp;
}

export interface AuditStore {
  append(entry: Omit<AuditEntry, 'id'>): Promise<AuditEntry>;
  /** Newest first. */
  list(query: AuditQuery): Promise<AuditEntry[]>;
}

export interface EventRecord {
  /** Increasing; the SSE id (Last-Event-ID resumes after it). */
  id: number;
  at: Timestamp;
  /** e.g. `audit`, `user.changed`, `session.progress`. */
  topic: string;
  data: unknown;
}

export interface EventStore {
  append(topic: string, data: unknown, at: Timestamp): Promise<EventRecord>;
  /** Events with id > afterId, oldest first. */
  after(afterId: number, limit: number): Promise<EventRecord[]>;
  /** Highest id, 0 when empty. */
  lastId(): Promise<number>;
  /** Keeps the newest `keep` events; returns how many were deleted. */
  trim(keep: number): Promise<number>;
}

export interface IdempotencyRecord {
  userId: string;
  key: string;
  method: string;
  path: string;
  /** SHA-256 (hex) of method, path and body: the same key with another request is refused. */
  requestHash: string;
  status: number;
  contentType: string;
  body: string;
  createdAt: Timestamp;
}

export interface IdempotencyStore {
  get(userId: string, key: string): Promise<IdempotencyRecord | undefined>;
  /** false when (userId, key) exists already (first writer wins). */
  put(record: IdempotencyRecord): Promise<boolean>;
  deleteOlderThan(before: Timestamp): Promise<number>;
}

/** The stores, inside or outside a transaction. */
export interface CatalogStores {
  users: UserStore;
  loginSessions: LoginSessionStore;
  audit: AuditStore;
  events: EventStore;
  idempotency: IdempotencyStore;
}

export interface Catalog extends CatalogStores {
  /** Runs fn in one transaction: all of its writes or none. Nested calls are not supported. */
  transaction<T>(fn: (tx: CatalogStores) => Promise<T>): Promise<T>;
  schemaVersion(): Promise<number>;
  /** Consistent online copy to a new file (written beside it, then renamed); the catalog stays usable. */
  backupTo(file: string): Promise<void>;
  close(): Promise<void>;
}

export type CatalogErrorCode =
  | 'CATALOG_CORRUPT'
  | 'CATALOG_TOO_NEW'
  | 'CATALOG_UNREADABLE'
  | 'CONFLICT'
  | 'NOT_FOUND'
  | 'VERSION_MISMATCH';

export class CatalogError extends Error {
  override name = 'CatalogError';
  constructor(
    readonly code: CatalogErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function isCatalogError(err: unknown): err is CatalogError {
  return err instanceof CatalogError;
}
