/** The sandbox's EBS side: the block engine (real bytes, copy-on-write layers) and the EBS direct API. */
export { LayeredBlockEngine } from './engine.js';
export { DEFAULT_QUOTAS, EbsQuotas, type QuotaSettings } from './quotas.js';
export { createEbsService } from './service.js';
export { expireDirectSnapshots, type SnapshotStatus, snapshotStatus } from './snapshots.js';
