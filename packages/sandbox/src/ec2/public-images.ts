import { rmSync } from 'node:fs';
import type { SnapshotRecord } from '../core/model.js';
import { buildRootFs, type OsKind } from '../seed/rootfs.js';
import { forEachDataBlock } from '../seed/sparse.js';
import { scratchDir } from '../seed/workdir.js';
import { type Call, iso, tables } from './call.js';
import type { ImageRecord } from './records.js';

/** The account id AWS's own public images belong to (owner alias "amazon"). */
export const AMAZON_OWNER = '137112412989';

const ROOT_GIB = 8;

const PUBLIC: Array<{ os: OsKind; name: string; description: string }> = [
  {
    os: 'al2023',
    name: 'al2023-ami-2023.5.20240624.0-kernel-6.1-x86_64',
    description: 'Amazon Linux 2023 AMI 2023.5.20240624.0 x86_64 HVM kernel-6.1',
  },
  { os: 'debian12', name: 'debian-12-amd64-20240507-1740', description: 'Debian 12 (20240507-1740)' },
];

/**
 * A few public images per region, owned by "amazon", each backed by a snapshot that holds a real (small) root
 * file system. Made on first use in a region, since building them runs mkfs.
 */
export function ensurePublicImages(c: Call): void {
  const t = tables(c);
  const mark = `public-images:${c.region}`;
  if (t.marks.has(mark)) return;
  for (const def of PUBLIC) publicImage(c, def);
  t.marks.put(mark, { id: mark, at: iso(c.now) });
}

/**
 * The data blocks of each root file system, built once per process: every region's images get the same bytes,
 * and mkfs runs once rather than once per region (a few MiB kept in memory).
 */
const rootBlocks = new Map<OsKind, Array<[number, Buffer]>>();

function rootFs(os: OsKind): Array<[number, Buffer]> {
  let blocks = rootBlocks.get(os);
  if (blocks) return blocks;
  const work = scratchDir('lifeboat-ami-', 64 * 2 ** 20);
  try {
    const image = buildRootFs(os, work, ROOT_GIB * 2 ** 30);
    const found: Array<[number, Buffer]> = [];
    if (image) forEachDataBlock(image, 0, (offset, data) => found.push([offset, data]));
    blocks = found;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  rootBlocks.set(os, blocks);
  return blocks;
}

function publicImage(c: Call, def: (typeof PUBLIC)[number]): void {
  const t = tables(c);
  const volumeId = c.ctx.newId('vol');
  const snapshotId = c.ctx.newId('snap');
  c.ctx.blocks.createVolume(volumeId, ROOT_GIB);
  for (const [offset, data] of rootFs(def.os)) c.ctx.blocks.writeVolume(volumeId, offset, data);
  c.ctx.blocks.createSnapshotFromVolume(snapshotId, volumeId);
  c.ctx.blocks.deleteVolume(volumeId);
  const created = iso(Date.parse('2024-06-24T00:00:00Z'));
  const snap: SnapshotRecord = {
    snapshotId,
    ownerId: AMAZON_OWNER,
    region: c.region,
    volumeId,
    volumeSizeGiB: ROOT_GIB,
    description: `Public root file system of ${def.name}`,
    encrypted: false,
    startTime: created,
    completesAt: created,
    origin: 'import',
    lineage: c.ctx.blocks.lineageOf(snapshotId) ?? snapshotId,
    sharedWith: [],
    tags: [],
  };
  t.snapshots.put(snapshotId, snap);
  const img: ImageRecord = {
    imageId: c.ctx.newId('ami'),
    ownerId: AMAZON_OWNER,
    ownerAlias: 'amazon',
    region: c.region,
    name: def.name,
    description: def.description,
    architecture: 'x86_64',
    rootDeviceName: '/dev/xvda',
    virtualizationType: 'hvm',
    enaSupport: true,
    bootMode: 'uefi-preferred',
    platformDetails: 'Linux/UNIX',
    blockDevices: [
      {
        deviceName: '/dev/xvda',
        snapshotId,
        volumeSize: ROOT_GIB,
        volumeType: 'gp3',
        deleteOnTermination: true,
        encrypted: false,
      },
    ],
    isPublic: true,
    launchPermissions: [],
    creationDate: created,
    tags: [],
  };
  t.images.put(img.imageId, img);
}
