/**
 * What policies, restore points, holds, rescans and the janitor look like to the API and the CLI. The services
 * (PolicyService, PointService) return these; the catalog's records stay inside.
 */
import type { HoldKind, PointSnapshotState, RestorePointState } from '@lifeboat/catalog';
import type { PolicyDocument } from './document.js';

/** The session kinds these services start. */
export const POLICY_RUN_SESSION = 'policy.run';
export const RESCAN_SESSION = 'rescan';
export const JANITOR_SESSION = 'janitor';
export const DELETE_SNAPSHOTS_SESSION = 'policy.delete-snapshots';

export interface SelectedInstance {
  account: string;
  region: string;
  instanceId: string;
  name: string | null;
  state: string;
  /** Devices whose volumes the policy protects, and those it excludes. */
  devices: string[];
  excludedDevices: string[];
}

export interface Policy {
  id: string;
  name: string;
  document: PolicyDocument;
  enabled: boolean;
  /** The API's ETag is `"<version>"`. */
  version: number;
  createdAt: string;
  updatedAt: string;
  /** Human description of the schedule, null without one. */
  scheduleText: string | null;
  /** The next scheduled run (ISO), null when disabled, unscheduled or never. */
  nextRunAt: string | null;
  lastSessionId: string | null;
  /** Restore points of the policy that exist (any layer). */
  points: number;
}

export interface PolicyWarning {
  code: 'SELECTS_NOTHING' | 'UNKNOWN_REGION' | 'INVENTORY_MISSING';
  message: string;
}

/** What `apply` did or, with dryRun, would do. */
export interface PolicyChangeReport {
  action: 'create' | 'update' | 'unchanged';
  dryRun: boolean;
  policy: Policy | null;
  /** Top-level document fields that change (`schedule`, `snapshots.keep`, ...). */
  changedFields: string[];
  /** Selection from the inventory: what the new document selects, and the difference to the old one. */
  selected: SelectedInstance[];
  added: string[];
  removed: string[];
  /** Snapshots that the new retention would delete at the next run (source and replica). */
  wouldDelete: Array<{
    pointId: string;
    instanceId: string;
    snapshotId: string;
    region: string;
    account: string;
  }>;
  warnings: PolicyWarning[];
}

export interface PointSnapshot {
  snapshotId: string;
  role: 'source' | 'replica';
  /** Account name when registered, else the AWS account id. */
  account: string;
  awsAccountId: string;
  region: string;
  device: string;
  sizeGiB: number;
  encrypted: boolean;
  kmsKeyId: string | null;
  state: PointSnapshotState;
  sealed: boolean;
  /** Replica: `<account>/<region>` of the policy's target. */
  target: string | null;
  sourceSnapshotId: string | null;
}

export interface Hold {
  id: string;
  kind: HoldKind;
  reason: string;
  createdBy: string | null;
  createdAt: string;
}

export interface RestorePoint {
  id: string;
  createdAt: string;
  state: RestorePointState;
  policy: string | null;
  policyId: string | null;
  /** The policy no longer exists. */
  orphaned: boolean;
  account: string | null;
  awsAccountId: string;
  region: string;
  instanceId: string;
  instanceName: string | null;
  sessionId: string | null;
  volumes: PointSnapshot[];
  replicas: PointSnapshot[];
  holds: Hold[];
  /** The instance's configuration was recorded (restores can rebuild it). */
  hasConfiguration: boolean;
  /** The configuration itself (GET of one point only; absent in lists). */
  configuration?: unknown;
}

export interface PointFilter {
  instanceId?: string;
  policy?: string;
  account?: string;
  region?: string;
  orphaned?: boolean;
  /** Include deleted points. */
  all?: boolean;
}
