/**
 * The tables as Kysely sees them at the latest schema version: one interface per table, column names as in SQL.
 * JSON columns are TEXT (parsed in the stores), booleans are 0/1 INTEGERs, so that the same
 * rows fit SQLite today and PostgreSQL later without type juggling in the queries.
 */
import type { Generated } from 'kysely';
import type { AuditOutcome, LoginKind, Role } from './types.js';

export interface UsersTable {
  id: string;
  name: string;
  role: Role;
  password_hash: string;
  /** JSON object or NULL (unlimited). Added by migration 002. */
  restore_tags: string | null;
  disabled: number;
  version: number;
  created_at: string;
  updated_at: string;
  password_changed_at: string;
}

export interface LoginSessionsTable {
  id: string;
  user_id: string;
  kind: LoginKind;
  token_hash: string;
  csrf_hash: string | null;
  address: string | null;
  created_at: string;
  expires_at: string;
  revoked_at: string | null;
}

export interface AuditTable {
  id: Generated<number>;
  at: string;
  actor: string | null;
  address: string | null;
  action: string;
  target: string | null;
  outcome: AuditOutcome;
  /** Added by migration 002. */
  reason: string | null;
  /** JSON object. */
  details: string;
}

export interface EventsTable {
  id: Generated<number>;
  at: string;
  topic: string;
  /** JSON value. */
  data: string;
}

export interface IdempotencyTable {
  user_id: string;
  key: string;
  method: string;
  path: string;
  request_hash: string;
  status: number;
  content_type: string;
  body: string;
  created_at: string;
}

export interface CatalogDatabase {
  users: UsersTable;
  login_sessions: LoginSessionsTable;
  audit: AuditTable;
  events: EventsTable;
  idempotency: IdempotencyTable;
}
