import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { BLOCK_SIZE } from '../core/blocks.js';
import { AwsError } from '../core/errors.js';
import type { SnapshotRecord, Tag, VolumeRecord } from '../core/model.js';
import type { Consistency, Ec2Quotas } from '../core/service.js';
import { alignedBuffer } from '../ebs/direct.js';
import type { LayeredBlockEngine } from '../ebs/engine.js';
import type { EbsQuotas, QuotaSettings } from '../ebs/quotas.js';
import { listPermissions, setPermissions } from '../iam/allow-lists.js';
import type { AllowListRecord } from '../iam/records.js';
import type { Context } from './context.js';
import type { Counter, Counters } from './counters.js';
import type { FaultRule, Faults } from './faults.js';

const GiB = 1024 ** 3;

/**
 * Every quota the admin API shows and sets: the EBS direct API's request rates (`enabled` turns those on) and
 * EC2's resource quotas, which are always enforced as AWS enforces them.
 */
export type SandboxQuotas = QuotaSettings & Ec2Quotas;
/** Import reads this much at a time: large reads, then each 512 KiB block is checked for zeros. */
const IMPORT_CHUNK = 16 * BLOCK_SIZE;
/** One read of volume content is held in memory whole: keep it bounded. */
const MAX_READ = 256 * 1024 * 1024;

export interface NewVolume {
  accountId: string;
  region: string;
  az: string;
  sizeGiB: number;
  volumeType?: string;
  tags?: Tag[];
  /** Create the volume with this snapshot's content (the caller's own, completed). */
  snapshotId?: string;
}

export interface ImportVolume extends Omit<NewVolume, 'sizeGiB'> {
  path: string;
  sizeGiB?: number;
}

/**
 * The sandbox-only operations, shared by the admin HTTP API and the RunningSandbox object: what an instance's OS
 * would do to its disks, and the knobs of the harness (counters, quotas, faults, clock).
 */
export class AdminOps {
  constructor(
    private readonly ctx: Context,
    private readonly engine: LayeredBlockEngine,
    private readonly counterSet: Counters,
    private readonly faultSet: Faults,
    private readonly quotaSet: EbsQuotas,
  ) {}

  /** A new available volume, empty or from a snapshot (as EC2 CreateVolume would make it, without the wait). */
  createVolume(v: NewVolume): VolumeRecord {
    this.checkPlacement(v);
    const snap = v.snapshotId
      ? this.ctx.state.table<SnapshotRecord>('snapshots').get(v.snapshotId)
      : undefined;
    if (v.snapshotId && (!snap || snap.ownerId !== v.accountId || snap.region !== v.region)) {
      throw new AwsError('InvalidSnapshot.NotFound', `The snapshot '${v.snapshotId}' does not exist.`, 404);
    }
    if (!Number.isInteger(v.sizeGiB) || v.sizeGiB < (snap?.volumeSizeGiB ?? 1) || v.sizeGiB > 65536) {
      throw new AwsError(
        'InvalidParameterValue',
        'sizeGiB must be an integer from 1 (or the snapshot size) to 65536',
      );
    }
    const volumeId = this.ctx.newId('vol');
    const now = new Date(this.ctx.now()).toISOString();
    const rec: VolumeRecord = {
      volumeId,
      ownerId: v.accountId,
      region: v.region,
      availabilityZone: v.az,
      sizeGiB: v.sizeGiB,
      volumeType: v.volumeType ?? 'gp3',
      iops: 3000,
      throughput: 125,
      encrypted: snap?.encrypted ?? false,
      ...(snap?.kmsKeyId ? { kmsKeyId: snap.kmsKeyId } : {}),
      createTime: now,
      availableAt: now,
      ...(snap ? { snapshotId: snap.snapshotId } : {}),
      attachments: [],
      tags: v.tags ?? [],
    };
    this.engine.createVolume(volumeId, v.sizeGiB, snap?.snapshotId);
    this.ctx.state.table<VolumeRecord>('volumes').put(volumeId, rec);
    return rec;
  }

  /** A disk image file as a new volume; all-zero blocks are skipped, so sparse images stay sparse. */
  importVolume(v: ImportVolume): VolumeRecord & { blocksWritten: number } {
    const fd = openSync(v.path, 'r');
    try {
      const bytes = fstatSync(fd).size;
      const sizeGiB = v.sizeGiB ?? Math.max(1, Math.ceil(bytes / GiB));
      if (bytes > sizeGiB * GiB)
        throw new AwsError('InvalidParameterValue', `${v.path} is larger than ${sizeGiB} GiB`);
      const rec = this.createVolume({ ...v, sizeGiB });
      return { ...rec, blocksWritten: this.copyIn(fd, bytes, rec.volumeId) };
    } finally {
      closeSync(fd);
    }
  }

  private copyIn(fd: number, bytes: number, volumeId: string): number {
    const buf = alignedBuffer(IMPORT_CHUNK); // whole blocks of it are written with O_DIRECT
    let written = 0;
    for (let pos = 0; pos < bytes; pos += IMPORT_CHUNK) {
      const n = Math.min(IMPORT_CHUNK, bytes - pos);
      buf.fill(0);
      let got = 0;
      while (got < n) got += readSync(fd, buf, got, n - got, pos + got) || n; // a short file reads as zeros
      for (let off = 0; off < n; off += BLOCK_SIZE) {
        const block = buf.subarray(off, off + BLOCK_SIZE);
        if (isZero(block)) continue;
        this.engine.writeVolume(volumeId, pos + off, block);
        written++;
      }
    }
    return written;
  }

  writeVolume(volumeId: string, offset: number, data: Uint8Array): void {
    this.volumeRecord(volumeId);
    this.engine.writeVolume(volumeId, offset, data);
  }

  readVolume(volumeId: string, offset: number, length: number): Buffer {
    this.volumeRecord(volumeId);
    if (length > MAX_READ)
      throw new AwsError('InvalidParameterValue', `Read at most ${MAX_READ} bytes at a time`);
    return this.engine.readVolume(volumeId, offset, length);
  }

  /** A completed snapshot of a volume, as EC2 CreateSnapshot makes them (minus the pending time). */
  snapshotVolume(volumeId: string, description = ''): SnapshotRecord {
    const vol = this.volumeRecord(volumeId);
    const snapshotId = this.ctx.newId('snap');
    this.engine.createSnapshotFromVolume(snapshotId, volumeId);
    const now = new Date(this.ctx.now()).toISOString();
    const rec: SnapshotRecord = {
      snapshotId,
      ownerId: vol.ownerId,
      region: vol.region,
      volumeId,
      volumeSizeGiB: vol.sizeGiB,
      description,
      encrypted: vol.encrypted,
      ...(vol.kmsKeyId ? { kmsKeyId: vol.kmsKeyId } : {}),
      startTime: now,
      completesAt: now,
      origin: 'ec2',
      lineage: this.engine.lineageOf(snapshotId) as string,
      sharedWith: [],
      tags: [],
    };
    this.ctx.state.table<SnapshotRecord>('snapshots').put(snapshotId, rec);
    return rec;
  }

  counters(): Counter[] {
    return this.counterSet.list();
  }

  resetCounters(): void {
    this.counterSet.reset();
  }

  quotas(): SandboxQuotas {
    return { ...this.quotaSet.get(), ...this.ctx.settings.ec2Quotas };
  }

  /** Changes the quotas named; the others keep their values. Refused whole when one value is not valid. */
  setQuotas(change: Partial<SandboxQuotas>): SandboxQuotas {
    const { concurrentSnapshotCopies, snapshotsPerRegion, ...ebs } = change;
    const ec2 = { concurrentSnapshotCopies, snapshotsPerRegion };
    for (const [name, v] of Object.entries(ec2)) {
      if (v !== undefined && !(Number.isInteger(v) && v >= 0)) {
        throw new AwsError('InvalidParameterValue', `${name} must be a non-negative integer`);
      }
    }
    this.quotaSet.set(ebs);
    const q = this.ctx.settings.ec2Quotas;
    if (concurrentSnapshotCopies !== undefined) q.concurrentSnapshotCopies = concurrentSnapshotCopies;
    if (snapshotsPerRegion !== undefined) q.snapshotsPerRegion = snapshotsPerRegion;
    return this.quotas();
  }

  consistency(): Consistency {
    return { ...this.ctx.settings.consistency };
  }

  /**
   * Eventual consistency of Describe calls: describeLagSeconds (sandbox clock) during which a snapshot just made
   * by CreateSnapshot(s) or CopySnapshot is not returned by DescribeSnapshots. Applies to snapshots made after it.
   */
  setConsistency(change: Partial<Consistency>): Consistency {
    const lag = change.describeLagSeconds;
    if (lag !== undefined) {
      if (typeof lag !== 'number' || !Number.isFinite(lag) || lag < 0) {
        throw new AwsError('InvalidParameterValue', 'describeLagSeconds must be a non-negative number');
      }
      this.ctx.settings.consistency.describeLagSeconds = lag;
    }
    return this.consistency();
  }

  faults(): FaultRule[] {
    return this.faultSet.list();
  }

  addFault(rule: FaultRule): string {
    return this.faultSet.add(rule);
  }

  removeFault(id: string): boolean {
    return this.faultSet.remove(id);
  }

  clearFaults(): void {
    this.faultSet.clear();
  }

  /** A principal's allow-list of actions (`ec2:CreateSnapshots`, `s3:*`, ...); null clears it. */
  setPermissions(arn: string, actions: string[] | null): AllowListRecord | null {
    return setPermissions(this.ctx, arn, actions);
  }

  permissions(): AllowListRecord[] {
    return listPermissions(this.ctx);
  }

  /** Moves the sandbox clock (not SigV4's) forward: token expiry, timeouts, pending -> completed. */
  advanceClock(ms: number): number {
    this.ctx.advanceClock(ms);
    return this.ctx.now();
  }

  /** The sandbox process's CPU time (microseconds) and memory, for benchmarks run against a child process. */
  processStats(): { pid: number; cpu: NodeJS.CpuUsage; rss: number } {
    return { pid: process.pid, cpu: process.cpuUsage(), rss: process.memoryUsage.rss() };
  }

  private volumeRecord(volumeId: string): VolumeRecord {
    const rec = this.ctx.state.table<VolumeRecord>('volumes').get(volumeId);
    if (!rec) throw new AwsError('InvalidVolume.NotFound', `The volume '${volumeId}' does not exist.`, 404);
    return rec;
  }

  private checkPlacement(v: { accountId: string; region: string; az: string }): void {
    if (!this.ctx.accounts.some((a) => a.accountId === v.accountId)) {
      throw new AwsError('InvalidParameterValue', `Unknown account ${v.accountId}`);
    }
    const region = this.ctx.regions.find((r) => r.name === v.region);
    if (!region) throw new AwsError('InvalidParameterValue', `Unknown region ${v.region}`);
    if (!region.zones.includes(v.az))
      throw new AwsError('InvalidParameterValue', `${v.az} is not a zone of ${v.region}`);
  }
}

const ZERO_BLOCK = Buffer.alloc(BLOCK_SIZE);

function isZero(block: Buffer): boolean {
  return block.length === BLOCK_SIZE
    ? block.equals(ZERO_BLOCK)
    : block.equals(ZERO_BLOCK.subarray(0, block.length));
}
