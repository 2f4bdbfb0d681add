/**
 * The tables as Kysely sees them at the latest schema version: one interface per table, column names as in SQL.
 * JSON columns are TEXT (parsed in the stores), booleans are 0/1 INTEGERs, so that the same
 * rows fit SQLite today and PostgreSQL later without type juggling in the queries.
 */
import type { Generated } from 'kysely';
import type {
  AccountKind,
  AuditOutcome,
  HoldKind,
  LoginKind,
  LogLevel,
  PointSnapshotState,
  RestorePointState,
  Role,
  SessionState,
  SnapshotRole,
  TaskState,
} from './types.js';

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

export interface AccountsTable {
  id: string;
  name: string;
  kind: AccountKind;
  aws_account_id: string;
  principal_arn: string;
  role_arn: string | null;
  external_id: string | null;
  sealed_credentials: string | null;
  access_key_hint: string | null;
  /** JSON array. */
  regions: string;
  /** JSON or NULL. */
  check_result: string | null;
  checked_at: string | null;
  version: number;
  created_at: string;
  updated_at: string;
}

export interface InventoryRegionsTable {
  account_id: string;
  region: string;
  attempted_at: string;
  refreshed_at: string | null;
  error: string | null;
  instances: number;
}

export interface InstancesTable {
  id: string;
  account_id: string;
  region: string;
  instance_id: string;
  name: string | null;
  state: string;
  instance_type: string;
  availability_zone: string | null;
  vpc_id: string | null;
  subnet_id: string | null;
  launched_at: string | null;
  /** JSON object. */
  tags: string;
  /** JSON array. */
  volumes: string;
  first_seen_at: string;
  last_seen_at: string;
  gone_at: string | null;
}

export interface InstanceTagsTable {
  instance: string;
  key: string;
  value: string;
}

export interface SessionsTable {
  id: string;
  kind: string;
  name: string;
  state: SessionState;
  created_by: string | null;
  created_at: string;
  started_at: string | null;
  ended_at: string | null;
  progress: number;
  /** JSON object or NULL. */
  summary: string | null;
  cancel_requested: number;
}

export interface TasksTable {
  id: string;
  session_id: string;
  seq: number;
  kind: string;
  resource: string | null;
  account: string | null;
  region: string | null;
  /** JSON value. */
  input: string;
  state: TaskState;
  attempts: number;
  progress: number;
  note: string | null;
  started_at: string | null;
  ended_at: string | null;
  error_code: string | null;
  error_message: string | null;
  /** JSON value or NULL. */
  checkpoint: string | null;
  /** JSON value or NULL. */
  result: string | null;
}

export interface TaskLogTable {
  id: Generated<number>;
  session_id: string;
  task_id: string | null;
  at: string;
  level: LogLevel;
  message: string;
}

export interface PoliciesTable {
  id: string;
  name: string;
  /** JSON object. */
  document: string;
  enabled: number;
  version: number;
  created_at: string;
  updated_at: string;
  last_due_at: string | null;
  last_session_id: string | null;
}

export interface RestorePointsTable {
  id: string;
  policy_id: string | null;
  policy_name: string | null;
  account_id: string | null;
  aws_account_id: string;
  region: string;
  instance_id: string;
  session_id: string | null;
  task_id: string | null;
  created_at: string;
  state: RestorePointState;
  /** JSON value or NULL. */
  configuration: string | null;
  /** JSON value or NULL. */
  overflow: string | null;
  updated_at: string;
}

export interface PointSnapshotsTable {
  snapshot_id: string;
  point_id: string;
  role: SnapshotRole;
  account_id: string | null;
  aws_account_id: string;
  region: string;
  device: string;
  volume_id: string | null;
  size_gib: number;
  encrypted: number;
  kms_key_id: string | null;
  state: PointSnapshotState;
  sealed: number;
  source_snapshot_id: string | null;
  target: string | null;
  created_at: string;
  deleted_at: string | null;
}

export interface PointHoldsTable {
  id: string;
  point_id: string;
  kind: HoldKind;
  reason: string;
  created_by: string | null;
  created_at: string;
}

export interface SessionAwsCallsTable {
  session_id: string;
  api: string;
  region: string;
  count: number;
}

export interface CatalogDatabase {
  users: UsersTable;
  login_sessions: LoginSessionsTable;
  audit: AuditTable;
  events: EventsTable;
  idempotency: IdempotencyTable;
  accounts: AccountsTable;
  inventory_regions: InventoryRegionsTable;
  instances: InstancesTable;
  instance_tags: InstanceTagsTable;
  sessions: SessionsTable;
  tasks: TasksTable;
  task_log: TaskLogTable;
  policies: PoliciesTable;
  restore_points: RestorePointsTable;
  point_snapshots: PointSnapshotsTable;
  point_holds: PointHoldsTable;
  session_aws_calls: SessionAwsCallsTable;
}
