export {
  allFeatureActions,
  FEATURE_ACTIONS,
  FEATURES,
  type Feature,
  featurePolicy,
} from './accounts/features.js';
export {
  ACCOUNT_NAME,
  type Account,
  AccountService,
  type AccountsAws,
  CREDENTIALS_PURPOSE,
  type ExternalIdOffer,
  type NewAccountInput,
  newExternalId,
  principalOf,
  type RegionStatus,
} from './accounts/service.js';
export { Appliance, type ApplianceOptions, backupCatalog, catalogFile, defaultDataDir } from './appliance.js';
export { type Actor, SYSTEM } from './audit.js';
export { actorOf, type LoginResult, type Principal } from './auth.js';
export { type Clock, sleepOn, systemClock, TestClock } from './clock.js';
export { ApplianceError, type ApplianceErrorCode, isApplianceError } from './errors.js';
export { TOPIC_PERMISSION } from './events.js';
export type { StoredResponse } from './idempotency.js';
export {
  DEFAULT_INVENTORY_INTERVAL_MS,
  INVENTORY_SESSION,
  INVENTORY_TASK,
  type Instance,
  type InstanceFilter,
  InventoryService,
  KEEP_ALL_GONE,
  type RefreshReport,
  type RefreshScope,
  type RegionRefresh,
  type RegionTaskInput,
  type RetainGone,
} from './inventory/service.js';
export * from './jobs/index.js';
export { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from './passwords.js';
export { can, isPermission, PERMISSIONS, type Permission, ROLE_PERMISSIONS } from './permissions.js';
export { type PolicyDocument, policyErrors, type ReplicaTarget } from './policies/document.js';
export {
  describeSchedule,
  nextRun,
  previousRun,
  type Schedule,
  scheduleErrors,
} from './policies/schedule.js';
export { PolicyService } from './policies/service.js';
export * from './policies/types.js';
export {
  decodeSecretFile,
  encodeSecretFile,
  KeyRing,
  type KmsWrappedSecret,
  keyIdOf,
  type LoadedKeyRing,
  loadOrCreateKeyRing,
  newRingKey,
  type RingKey,
  readKeyRing,
  readSecretFileText,
  SECRET_FILE,
  type SecretBox,
  type SecretKms,
  type SecretProtection,
  setSecretKms,
  writeKeyRing,
} from './secret.js';
export { type InitSecretOptions, type InitSecretResult, initSecret, rotateKeyRing } from './secret-admin.js';
export { recoveryPhraseOf } from './secret-phrase.js';
export type { SnapshotEnvOptions, SnapshotsAwsFactory } from './snapshots/env.js';
export { SNAPSHOT_TASK, type SnapshotTaskInput } from './snapshots/instance-task.js';
export { PointService } from './snapshots/points.js';
export { decideRetention, type RetentionRules } from './snapshots/retention.js';
export { openSeal, type SnapshotSeal } from './snapshots/seal.js';
export type { ThrottleLimits } from './throttle.js';
export { type NewUserInput, USER_NAME, type User, type UserEdit } from './users.js';
