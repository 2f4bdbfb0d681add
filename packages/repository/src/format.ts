/**
 * Constants of repository format v1 (docs/repository-format.md is the specification).
 */
export const FORMAT_VERSION = 1;
export const FORMAT_NAME = 'lifeboat-repository';

/** The EBS direct API block: chunks are exactly this size and aligned to block indexes. */
export const CHUNK_SIZE = 524288;

/** A pack is closed once it holds at least this many bytes (packs stay well below 2^32 bytes). */
export const PACK_TARGET_SIZE = 32 * 1024 * 1024;

/** Blocks per leaf of a disk map tree (512 MiB of disk), and children per inner node. */
export const LEAF_BLOCKS = 1024;
export const NODE_FANOUT = 1024;

export const ID_BYTES = 32;
export const PACK_ID_BYTES = 16;

/** Object keys. Data packs live under data/, everything else that describes them under meta/. */
export const CONFIG_KEY = 'config';
export const KEYS_PREFIX = 'keys/';
export const DATA_PREFIX = 'data/';
export const TREE_PACK_PREFIX = 'meta/packs/';
export const INDEX_PREFIX = 'meta/index/';
export const POINTS_PREFIX = 'meta/points/';

export type BlobType = 'data' | 'tree';

export function packKey(type: BlobType, packId: string): string {
  return type === 'data' ? `${DATA_PREFIX}${packId.slice(0, 2)}/${packId}` : `${TREE_PACK_PREFIX}${packId}`;
}

export function indexKey(indexId: string): string {
  return `${INDEX_PREFIX}${indexId}`;
}

export function pointKey(pointId: string): string {
  return `${POINTS_PREFIX}${pointId}`;
}

export function keySlotKey(slotId: string): string {
  return `${KEYS_PREFIX}${slotId}`;
}

/** Restore point ids given by callers (the appliance uses one id across snapshots, replicas and manifest). */
export const POINT_ID_PATTERN = /^[a-z0-9][a-z0-9-]{5,62}[a-z0-9]$/;

/** Maintenance objects (sealed JSON): backup sessions, the maintenance lease, prune plans. */
export const SESSIONS_PREFIX = 'meta/sessions/';
export const LEASES_PREFIX = 'meta/leases/';
export const PLANS_PREFIX = 'meta/prune/';
