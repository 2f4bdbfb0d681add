import type { Codec } from './compress.js';
import type { MasterKey } from './crypto/keys.js';
import { open, sealToBuffer } from './crypto/seal.js';
import { RepositoryError } from './errors.js';
import { FORMAT_VERSION, pointKey } from './format.js';

/**
 * A restore point's manifest (meta/points/<id>): what was protected, which disks, and the root of each disk's map.
 * Sealed like every metadata object; its id is inside too, so a manifest renamed to another id is refused.
 */
export interface ResourceRef {
  id: string; // i-0abc..., vol-..., or a name for plain images
  kind: string; // "ec2-instance", "ebs-volume", "image"
  account?: string;
  region?: string;
}

export interface DiskRecord {
  name: string; // device name or label: "/dev/xvda", "root"
  sizeBytes: number;
  sourceSnapshotId?: string;
  /** Root of the disk map (hex id, null when every block is a hole) and its height. */
  tree: { root: string | null; height: number };
  /** Blocks holding data (not holes), and blocks read for this restore point (all, or the changed ones). */
  stats: { dataBlocks: number; blocksRead: number; newChunks: number; newBytesStored: number };
}

export interface Manifest {
  format: typeof FORMAT_VERSION;
  id: string;
  resource: ResourceRef;
  disks: DiskRecord[];
  parent?: string;
  startedAt: string;
  finishedAt: string;
  tags: Record<string, string>;
  /** Opaque to the repository: the appliance stores the instance's configuration here. */
  configuration?: unknown;
  host?: string;
  client?: string; // "lifeboat 0.1.0"
}

export function encodeManifest(key: MasterKey, codec: Codec, m: Manifest): Buffer {
  return sealToBuffer(
    key.metaKey,
    Buffer.from(pointKey(m.id)),
    codec.compress(Buffer.from(JSON.stringify(m))),
  );
}

export function decodeManifest(key: MasterKey, codec: Codec, id: string, sealed: Buffer): Manifest {
  const what = `restore point ${id} (${pointKey(id)})`;
  const plain = open(key.metaKey, Buffer.from(pointKey(id)), sealed, what);
  let m: Manifest;
  try {
    m = JSON.parse(codec.decompress(plain).toString('utf8')) as Manifest;
  } catch (cause) {
    throw new RepositoryError('REPO_CORRUPT', `${what} is malformed`, { cause });
  }
  if (m.format !== FORMAT_VERSION) {
    throw new RepositoryError(
      'REPO_VERSION',
      `${what} has format ${m.format}; this build reads format ${FORMAT_VERSION}`,
    );
  }
  if (m.id !== id || !Array.isArray(m.disks))
    throw new RepositoryError('REPO_CORRUPT', `${what} is malformed`);
  return m;
}
