import type { SnapshotRecord, VolumeRecord } from '../core/model.js';
import type { SandboxContext } from '../core/service.js';
import type { ImageRecord, InstanceRecord } from '../ec2/records.js';
import { TABLES } from '../ec2/records.js';

const shift = (iso: string, seconds: number) => new Date(Date.parse(iso) - seconds * 1000).toISOString();

/** Moves instances back in time: launched (or stopped) `seconds` ago, so that their state has settled. */
export function backdateInstances(ctx: SandboxContext, instanceIds: string[], seconds: number): void {
  const instances = ctx.state.table<InstanceRecord>(TABLES.instances);
  for (const id of instanceIds) {
    const i = instances.get(id);
    if (i)
      instances.put(id, {
        ...i,
        launchTime: shift(i.launchTime, seconds),
        changedAt: shift(i.changedAt, seconds),
      });
  }
}

/**
 * Moves the demo's volumes, snapshots and images back in time, so that a freshly seeded environment looks
 * settled (volumes attached, snapshots completed) rather than just made.
 */
export function backdate(ctx: SandboxContext, accounts: string[], seconds: number): void {
  const s = ctx.state;
  const volumes = s.table<VolumeRecord>(TABLES.volumes);
  for (const v of [...volumes.values()]) {
    if (!accounts.includes(v.ownerId)) continue;
    volumes.put(v.volumeId, {
      ...v,
      createTime: shift(v.createTime, seconds),
      availableAt: shift(v.availableAt, seconds),
      attachments: v.attachments.map((a) => ({ ...a, attachTime: shift(a.attachTime, seconds) })),
    });
  }
  const snapshots = s.table<SnapshotRecord>(TABLES.snapshots);
  for (const x of [...snapshots.values()]) {
    if (!accounts.includes(x.ownerId)) continue;
    snapshots.put(x.snapshotId, {
      ...x,
      startTime: shift(x.startTime, seconds),
      completesAt: shift(x.completesAt, seconds),
    });
  }
  const images = s.table<ImageRecord>(TABLES.images);
  for (const img of [...images.values()]) {
    if (accounts.includes(img.ownerId))
      images.put(img.imageId, { ...img, creationDate: shift(img.creationDate, seconds) });
  }
}
