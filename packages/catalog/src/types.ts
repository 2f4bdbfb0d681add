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

export type AccountKind = 'role' | 'keys';

/** A permission check's outcome per feature: ok, or the IAM actions the principal may not perform. */
export interface AccountCheckResult {
  features: Array<{ feature: string; ok: boolean; missing: string[] }>;
}

export interface AccountRecord {
  id: string;
  /** The operator's name for it (used by policies). */
  name: string;
  kind: AccountKind;
  /** The 12-digit AWS account id, as STS GetCallerIdentity reported it at registration. */
  awsAccountId: string;
  /** What SimulatePrincipalPolicy checks: the role's ARN, or the access keys' user (or root) ARN. */
  principalArn: string;
  roleArn: string | null;
  /** Generated by the appliance; the role's trust policy requires it (confused-deputy protection). */
  externalId: string | null;
  /** Access keys sealed with the appliance's secret (purpose `account-credentials`); never shown. */
  sealedCredentials: string | null;
  /** The access key id's last four characters, to tell keys apart. */
  accessKeyHint: string | null;
  regions: string[];
  lastCheck: AccountCheckResult | null;
  checkedAt: Timestamp | null;
  version: number;
  createdAt: Timestamp;
  updatedAt: Timestamp;
}

export type NewAccount = Omit<
  AccountRecord,
  'version' | 'createdAt' | 'updatedAt' | 'lastCheck' | 'checkedAt'
>;

export interface AccountChanges {
  regions?: string[];
  lastCheck?: AccountCheckResult;
  checkedAt?: Timestamp;
}

export interface AccountStore {
  get(name: string): Promise<AccountRecord | undefined>;
  getById(id: string): Promise<AccountRecord | undefined>;
  /** Ordered by name; `after` is the last name of the previous page. */
  list(page: Page & { after?: string }): Promise<AccountRecord[]>;
  /** CatalogError CONFLICT when the name (or id) is taken. */
  insert(account: NewAccount, at: Timestamp): Promise<AccountRecord>;
  /** Bumps the version; NOT_FOUND / VERSION_MISMATCH as users. */
  update(
    id: string,
    expectedVersion: number | undefined,
    changes: AccountChanges,
    at: Timestamp,
  ): Promise<AccountRecord>;
  /** Removes the account with its inventory. NOT_FOUND / VERSION_MISMATCH as users. */
  remove(id: string, expectedVersion: number | undefined): Promise<void>;
}

export interface VolumeRecord {
  volumeId: string;
  device: string | null;
  sizeGiB: number;
  type: string | null;
  encrypted: boolean;
  kmsKeyId: string | null;
  deleteOnTermination: boolean | null;
}

export interface InstanceRecord {
  accountId: string;
  region: string;
  instanceId: string;
  /** The Name tag. */
  name: string | null;
  /** EC2's state name (pending, running, stopping, stopped, shutting-down, terminated), or `gone`. */
  state: string;
  instanceType: string;
  availabilityZone: string | null;
  vpcId: string | null;
  subnetId: string | null;
  launchedAt: Timestamp | null;
  tags: Record<string, string>;
  volumes: VolumeRecord[];
  firstSeenAt: Timestamp;
  lastSeenAt: Timestamp;
  /** When a refresh first missed it; it is kept (as `gone`) while restore points of it exist. */
  goneAt: Timestamp | null;
}

export type SeenInstance = Omit<InstanceRecord, 'firstSeenAt' | 'lastSeenAt' | 'goneAt'>;

export interface InstanceQuery extends Page {
  /** The last `accountId/region/instanceId` key of the previous page. */
  after?: string;
  accountId?: string;
  region?: string;
  state?: string;
  /** Instances carrying all of these tags. */
  tags?: Record<string, string>;
}

export interface RegionStatusRecord {
  accountId: string;
  region: string;
  attemptedAt: Timestamp;
  /** The last refresh that succeeded. */
  refreshedAt: Timestamp | null;
  /** The last attempt's error, null when it succeeded. */
  error: string | null;
  instances: number;
}

export interface InventoryStore {
  /**
   * One region's refresh: upserts the instances seen (gone ones come back), marks instances of that account and
   * region not seen `gone` (the first time only), and returns the keys of those newly gone.
   */
  reconcile(
    accountId: string,
    region: string,
    seen: SeenInstance[],
    at: Timestamp,
  ): Promise<{ gone: string[] }>;
  /** Deletes inventory rows by key (`accountId/region/instanceId`); returns how many. */
  remove(keys: string[]): Promise<number>;
  get(accountId: string, region: string, instanceId: string): Promise<InstanceRecord | undefined>;
  /** Ordered by key. */
  list(query: InstanceQuery): Promise<InstanceRecord[]>;
  setRegionStatus(status: RegionStatusRecord): Promise<void>;
  regionStatus(accountId?: string): Promise<RegionStatusRecord[]>;
  /** Region rows of regions an account no longer scans go, with their instances. */
  dropRegions(accountId: string, keep: string[]): Promise<void>;
}

/** `accountId/region/instanceId`: the key of an inventory row (and its list cursor). */
export const instanceKey = (accountId: string, region: string, instanceId: string): string =>
  `${accountId}/${region}/${instanceId}`;

export type SessionState = 'queued' | 'running' | 'succeeded' | 'warning' | 'failed' | 'cancelled';
export const SESSION_STATES: readonly SessionState[] = [
  'queued',
  'running',
  'succeeded',
  'warning',
  'failed',
  'cancelled',
];
export type TaskState =
  | 'queued'
  | 'running'
  | 'succeeded'
  | 'warning'
  | 'failed'
  | 'cancelled'
  | 'interrupted';
export const TASK_STATES: readonly TaskState[] = [
  'queued',
  'running',
  'succeeded',
  'warning',
  'failed',
  'cancelled',
  'interrupted',
];

/** A run of the job engine (one per backup run, inventory refresh, ...), made of tasks. */
export interface SessionRecord {
  id: string;
  /** What kind of run, e.g. `inventory.refresh`, `snapshot.policy`. */
  kind: string;
  name: string;
  state: SessionState;
  /** User name, or null for the appliance itself (schedules). */
  createdBy: string | null;
  createdAt: Timestamp;
  startedAt: Timestamp | null;
  endedAt: Timestamp | null;
  /** 0..1 */
  progress: number;
  /** Tasks per state (every state present, 0 when none). */
  counts: Record<TaskState, number>;
  /** What the run did, set when it ends (JSON object). */
  summary: Record<string, unknown> | null;
  /** A cancel was asked for: it ends `cancelled`. */
  cancelRequested: boolean;
}

export type NewSession = Pick<SessionRecord, 'id' | 'kind' | 'name' | 'createdBy' | 'createdAt'>;

export interface SessionChanges {
  state?: SessionState;
  startedAt?: Timestamp | null;
  endedAt?: Timestamp | null;
  progress?: number;
  summary?: Record<string, unknown> | null;
  cancelRequested?: boolean;
}

export interface SessionQuery extends Page {
  /** Keyset paging, newest first: sessions created before this one. */
  before?: { createdAt: Timestamp; id: string };
  state?: SessionState;
  kind?: string;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface TaskLogLine {
  /** Increasing: the paging key. */
  id: number;
  sessionId: string;
  /** null: a line about the session as a whole. */
  taskId: string | null;
  at: Timestamp;
  level: LogLevel;
  message: string;
}

export interface LogQuery extends Page {
  sessionId: string;
  taskId?: string;
  /** Lines with an id above this, oldest first. */
  after?: number;
}

export interface SessionStore {
  /** CatalogError CONFLICT when the id exists. State `queued`, progress 0. */
  insert(session: NewSession): Promise<SessionRecord>;
  get(id: string): Promise<SessionRecord | undefined>;
  /** Newest first (createdAt, then id, descending). */
  list(query: SessionQuery): Promise<SessionRecord[]>;
  /** CatalogError NOT_FOUND. */
  update(id: string, changes: SessionChanges): Promise<SessionRecord>;
  /** Sessions in state queued or running (what an appliance restart picks up), oldest first. */
  unfinished(): Promise<SessionRecord[]>;
  appendLog(line: Omit<TaskLogLine, 'id'>): Promise<TaskLogLine>;
  /** Oldest first. */
  log(query: LogQuery): Promise<TaskLogLine[]>;
}

/** One unit of a session's work, usually one resource (an instance, an account and region). */
export interface TaskRecord {
  id: string;
  sessionId: string;
  /** 1, 2, ... within the session: the order tasks are started in. */
  seq: number;
  /** The registered task kind that runs it. */
  kind: string;
  /** What it acts on, e.g. an instance id; null when nothing in particular. */
  resource: string | null;
  account: string | null;
  region: string | null;
  /** The kind's parameters (JSON). */
  input: unknown;
  state: TaskState;
  /** How many times it was started (a resume after a restart counts). */
  attempts: number;
  /** 0..1 */
  progress: number;
  /** The last progress note, e.g. `3 of 8 volumes`. */
  note: string | null;
  startedAt: Timestamp | null;
  endedAt: Timestamp | null;
  error: { code: string; message: string } | null;
  /** What the handler recorded to resume from after a restart (JSON), null when nothing. */
  checkpoint: unknown;
  /** What the handler returned (JSON), null until it ends. */
  result: unknown;
}

export type NewTask = Pick<
  TaskRecord,
  'id' | 'sessionId' | 'seq' | 'kind' | 'resource' | 'account' | 'region' | 'input'
>;

export interface TaskChanges {
  state?: TaskState;
  attempts?: number;
  progress?: number;
  note?: string | null;
  startedAt?: Timestamp | null;
  endedAt?: Timestamp | null;
  error?: { code: string; message: string } | null;
  checkpoint?: unknown;
  result?: unknown;
}

export interface TaskStore {
  /** CatalogError CONFLICT when the id or (session, seq) exists. State `queued`. */
  insert(task: NewTask): Promise<TaskRecord>;
  get(id: string): Promise<TaskRecord | undefined>;
  /** A session's tasks by seq. */
  ofSession(sessionId: string): Promise<TaskRecord[]>;
  /** Every task in one of these states, by session then seq. */
  inStates(states: readonly TaskState[]): Promise<TaskRecord[]>;
  /** CatalogError NOT_FOUND. */
  update(id: string, changes: TaskChanges): Promise<TaskRecord>;
}

/** A backup policy: its document (validated by the appliance, stored as JSON), switched on or off. */
export interface PolicyRecord {
  id: string;
  /** Unique among policies. */
  name: string;
  /** The policy document as the user gave it after validation (JSON object; `name` inside equals `name`). */
  document: Record<string, unknown>;
  enabled: boolean;
  /** Starts at 1, +1 per update (the API's ETag); schedule state changes do not count. */
  version: number;
  createdAt: Timestamp;
  updatedAt: Timestamp;
  /** The last scheduled instant the scheduler handled (ran, skipped or logged as missed); null: never. */
  lastDueAt: Timestamp | null;
  /** The session of the last run (scheduled or run-now), null: never ran. */
  lastSessionId: string | null;
}

export type NewPolicy = Pick<PolicyRecord, 'id' | 'name' | 'document' | 'enabled'>;

export interface PolicyChanges {
  name?: string;
  document?: Record<string, unknown>;
  enabled?: boolean;
}

export interface PolicyStore {
  get(name: string): Promise<PolicyRecord | undefined>;
  getById(id: string): Promise<PolicyRecord | undefined>;
  /** Ordered by name; `after`: the last name of the previous page. */
  list(page: Page & { after?: string }): Promise<PolicyRecord[]>;
  /** CatalogError CONFLICT when the name or id exists. Version 1. */
  insert(policy: NewPolicy, at: Timestamp): Promise<PolicyRecord>;
  /** CatalogError NOT_FOUND, VERSION_MISMATCH (expectedVersion given and different), CONFLICT (name taken). */
  update(
    id: string,
    expectedVersion: number | undefined,
    changes: PolicyChanges,
    at: Timestamp,
  ): Promise<PolicyRecord>;
  /** The scheduler's bookkeeping; leaves version and updatedAt alone. CatalogError NOT_FOUND. */
  setScheduleState(
    id: string,
    state: { lastDueAt?: Timestamp | null; lastSessionId?: string | null },
  ): Promise<void>;
  /** CatalogError NOT_FOUND, VERSION_MISMATCH. Restore points keep the policy's id and name (then orphaned). */
  remove(id: string, expectedVersion: number | undefined): Promise<void>;
}

/**
 * `creating`: its snapshots are being made (known only through this record until their seals are written);
 * `available`: every selected volume has a snapshot; `partial`: some volumes failed or were lost;
 * `failed`: none exists; `deleted`: every snapshot of it (sources and replicas) is gone.
 */
export type RestorePointState = 'creating' | 'available' | 'partial' | 'failed' | 'deleted';

/**
 * One instant of one instance: the crash-consistent snapshot set, its replicas, and (next issue) the repository's
 * copy, all carrying this id.
 */
export interface RestorePointRecord {
  id: string;
  policyId: string | null;
  /** Kept when the policy is removed or renamed later: what the point was made by. */
  policyName: string | null;
  /** The catalog account (AccountRecord.id) and AWS account of the instance. */
  accountId: string | null;
  awsAccountId: string;
  region: string;
  instanceId: string;
  sessionId: string | null;
  taskId: string | null;
  /** The snapshot set's instant (CreateSnapshots' StartTime). */
  createdAt: Timestamp;
  state: RestorePointState;
  /** The instance's configuration when the set was made (JSON), null until known. */
  configuration: unknown;
  /** What did not fit into the seals (long user tags, user data), kept only here and in the repository (JSON). */
  overflow: unknown;
  updatedAt: Timestamp;
}

export type NewRestorePoint = Omit<RestorePointRecord, 'updatedAt'>;

export interface RestorePointChanges {
  state?: RestorePointState;
  configuration?: unknown;
  overflow?: unknown;
  createdAt?: Timestamp;
}

/** `source`: made from the instance's volume; `replica`: a copy of a source in another region or account. */
export type SnapshotRole = 'source' | 'replica';

/** `pending`/`completed`/`error`: EC2's snapshot states; `deleted`: removed by retention, janitor or by hand. */
export type PointSnapshotState = 'pending' | 'completed' | 'error' | 'deleted';

export interface PointSnapshotRecord {
  snapshotId: string;
  pointId: string;
  role: SnapshotRole;
  /** The catalog account holding it (null when not registered, e.g. found by a rescan of a shared copy). */
  accountId: string | null;
  awsAccountId: string;
  region: string;
  /** The instance's device name (`/dev/xvda`). */
  device: string;
  volumeId: string | null;
  sizeGiB: number;
  encrypted: boolean;
  kmsKeyId: string | null;
  state: PointSnapshotState;
  /** The sealed metadata tags are on it (phase 2 of tagging done). */
  sealed: boolean;
  /** A replica's source snapshot id. */
  sourceSnapshotId: string | null;
  /** A replica's target, as the policy names it: `<account name>/<region>`, the key of its retention. */
  target: string | null;
  createdAt: Timestamp;
  deletedAt: Timestamp | null;
}

export interface PointSnapshotChanges {
  state?: PointSnapshotState;
  sealed?: boolean;
  sizeGiB?: number;
  encrypted?: boolean;
  kmsKeyId?: string | null;
  deletedAt?: Timestamp | null;
}

/** Why a restore point must not be deleted now. */
export type HoldKind = 'manual' | 'restore' | 'backup-base';

export interface HoldRecord {
  id: string;
  pointId: string;
  kind: HoldKind;
  reason: string;
  /** User name, or null for the appliance (a running restore or backup). */
  createdBy: string | null;
  createdAt: Timestamp;
}

export interface RestorePointQuery extends Page {
  /** Keyset paging, newest first: points created before this one. */
  before?: { createdAt: Timestamp; id: string };
  instanceId?: string;
  policyId?: string;
  accountId?: string;
  region?: string;
  /** Default: every state but `deleted`. */
  states?: RestorePointState[];
  /** Only points whose policy no longer exists (policyId not null and no policy row). */
  orphaned?: boolean;
}

export interface RestorePointStore {
  /** CatalogError CONFLICT when the id exists. */
  insert(point: NewRestorePoint): Promise<RestorePointRecord>;
  get(id: string): Promise<RestorePointRecord | undefined>;
  /** Newest first (createdAt, then id, descending). */
  list(query: RestorePointQuery): Promise<RestorePointRecord[]>;
  /** CatalogError NOT_FOUND. */
  update(id: string, changes: RestorePointChanges, at: Timestamp): Promise<RestorePointRecord>;
  /** CatalogError CONFLICT when the snapshot id exists (under any point). */
  addSnapshot(snapshot: PointSnapshotRecord): Promise<void>;
  /** CatalogError NOT_FOUND. */
  updateSnapshot(snapshotId: string, changes: PointSnapshotChanges): Promise<PointSnapshotRecord>;
  getSnapshot(snapshotId: string): Promise<PointSnapshotRecord | undefined>;
  /** The snapshots of these points (deleted ones too), by point then role then device. */
  snapshotsOf(pointIds: string[]): Promise<PointSnapshotRecord[]>;
  /** Snapshots in these states (e.g. pending, or not sealed), for the waiter and the janitor; by createdAt. */
  snapshotsWhere(filter: {
    states?: PointSnapshotState[];
    sealed?: boolean;
    accountId?: string;
    region?: string;
    limit: number;
  }): Promise<PointSnapshotRecord[]>;
  /** CatalogError NOT_FOUND (no such point). */
  addHold(hold: HoldRecord): Promise<void>;
  /** Removes holds of a point (of one kind, or all); returns how many. */
  removeHolds(pointId: string, kind?: HoldKind): Promise<number>;
  /** Holds of these points, oldest first. */
  holdsOf(pointIds: string[]): Promise<HoldRecord[]>;
}

/** How many AWS calls a session made, per API and region: the start of the cost history. */
export interface AwsCallCount {
  /** e.g. `ec2:CreateSnapshots`. */
  api: string;
  region: string;
  count: number;
}

export interface AwsCallStore {
  /** Adds to the session's counts (creating rows as needed). */
  add(sessionId: string, counts: AwsCallCount[]): Promise<void>;
  /** By api then region. */
  ofSession(sessionId: string): Promise<AwsCallCount[]>;
}

/** The stores, inside or outside a transaction. */
export interface CatalogStores {
  users: UserStore;
  loginSessions: LoginSessionStore;
  audit: AuditStore;
  events: EventStore;
  idempotency: IdempotencyStore;
  accounts: AccountStore;
  inventory: InventoryStore;
  sessions: SessionStore;
  tasks: TaskStore;
  policies: PolicyStore;
  points: RestorePointStore;
  awsCalls: AwsCallStore;
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
