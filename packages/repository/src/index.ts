export { type BackupOptions, backupImage, type DiskSource, newPointId } from './backup.js';
export { type CheckReport, checkRepository, type DamagedDisk, type DamagedRange } from './check.js';
export { armCrashPoint, CHECKPOINTS, setCheckpointHook } from './crash.js';
export {
  createKekSlot,
  type KeySlot,
  newRecoveryKey,
  openKekSlot,
  parseRecoveryKey,
} from './crypto/keys.js';
export { isRepositoryError, RepositoryError, type RepositoryErrorCode } from './errors.js';
export { type ForgetOptions, type ForgetReport, forget } from './forget.js';
export { CHUNK_SIZE, FORMAT_VERSION, LEAF_BLOCKS, PACK_TARGET_SIZE } from './format.js';
export { activeLeases, breakLeases, type LeaseRecord, MaintenanceLease } from './lease.js';
export type { DiskRecord, Manifest, ResourceRef } from './manifest.js';
export type { Progress } from './progress.js';
export { type PlanRecord, type PruneOptions, type PruneReport, prune } from './prune.js';
export { assertRepairable, type RepairReport, repairRepository } from './repair.js';
export {
  type InitOptions,
  passwordUnlocker,
  Repository,
  type RepositoryConfig,
  recoveryUnlocker,
  type Unlocker,
} from './repository.js';
export {
  type DamagedExtent,
  DiskReader,
  findDisk,
  type RestoredDisk,
  type RestoreOptions,
  restoreDisk,
} from './restore.js';
export {
  applyRetention,
  groupKey,
  parseDuration,
  type RetentionGroup,
  type RetentionPolicy,
} from './retention.js';
export { activeSessions, BackupSession } from './sessions.js';
export { type ConformanceCheck, storeConformance } from './store/conformance.js';
export { LocalStore, type LocalStoreOptions } from './store/local.js';
export { isValidKey, type ObjectInfo, type Store } from './store/store.js';
