import { AwsError } from '../core/errors.js';
import { byId, type Call, type Handler, iso, later, mine, tables } from './call.js';
import { applyFilters } from './filters.js';
import { modificationState, volumeStatus } from './lifecycle.js';
import { paginate } from './paging.js';
import { findVolume, volumePerformance } from './volumes.js';

export const modifyVolume: Handler = (c) => {
  const v = findVolume(c, c.p.req('VolumeId'));
  if (volumeStatus(v, c.now) === 'creating')
    throw new AwsError('IncorrectState', `Volume '${v.volumeId}' is in the 'creating' state.`);
  const prev = tables(c).modifications.get(v.volumeId);
  if (prev && modificationState(prev, c.now).state === 'modifying') {
    throw new AwsError(
      'IncorrectModificationState',
      `Cannot modify volume ${v.volumeId} while it is in modifying state`,
    );
  }
  const size = c.p.int('Size') ?? v.sizeGiB;
  if (size < v.sizeGiB)
    throw new AwsError('InvalidParameterValue', 'New size cannot be smaller than existing size');
  const type = c.p.str('VolumeType') ?? v.volumeType;
  const iops = c.p.int('Iops') ?? (type === v.volumeType ? (type === 'gp2' ? undefined : v.iops) : undefined);
  const perf = volumePerformance(
    {
      zone: v.availabilityZone,
      volumeType: type,
      iops,
      throughput: c.p.int('Throughput') ?? v.throughput,
      tags: [],
    },
    size,
  );
  if (
    size === v.sizeGiB &&
    perf.volumeType === v.volumeType &&
    perf.iops === v.iops &&
    perf.throughput === v.throughput
  ) {
    throw new AwsError(
      'InvalidParameterCombination',
      'New size, type, iops or throughput must differ from the current ones',
    );
  }
  if (size > v.sizeGiB) c.ctx.blocks.resizeVolume(v.volumeId, size);
  tables(c).volumes.put(v.volumeId, { ...v, sizeGiB: size, ...perf });
  const m = {
    volumeId: v.volumeId,
    ownerId: c.accountId,
    region: c.region,
    originalSize: v.sizeGiB,
    targetSize: size,
    originalVolumeType: v.volumeType,
    targetVolumeType: perf.volumeType,
    originalIops: v.iops,
    targetIops: perf.iops,
    startTime: iso(c.now),
    optimizingAt: later(c, c.ctx.timing.volumeSeconds),
    completesAt: later(c, 2 * c.ctx.timing.volumeSeconds),
  };
  tables(c).modifications.put(v.volumeId, m);
  return { volumeModification: modificationXml(c, m) };
};

function modificationXml(c: Call, m: Parameters<typeof modificationState>[0]) {
  const s = modificationState(m, c.now);
  return {
    volumeId: m.volumeId,
    modificationState: s.state,
    targetSize: m.targetSize,
    targetIops: m.targetIops,
    targetVolumeType: m.targetVolumeType,
    targetMultiAttachEnabled: false,
    originalSize: m.originalSize,
    originalIops: m.originalIops,
    originalVolumeType: m.originalVolumeType,
    originalMultiAttachEnabled: false,
    progress: s.progress,
    startTime: m.startTime,
    endTime: s.state === 'completed' ? m.completesAt : undefined,
  };
}

export const describeVolumesModifications: Handler = (c) => {
  const ids = c.p.list('VolumeId');
  const all = mine(c, tables(c).modifications);
  for (const id of ids) {
    if (!all.some((m) => m.volumeId === id)) {
      throw new AwsError(
        'InvalidVolumeModification.NotFound',
        `Modification for volume '${id}' does not exist.`,
      );
    }
  }
  const rows = all.filter((m) => ids.length === 0 || ids.includes(m.volumeId));
  const filtered = applyFilters(rows, c.p.filters(), {
    'volume-id': (m) => m.volumeId,
    'modification-state': (m) => modificationState(m, c.now).state,
    'target-size': (m) => m.targetSize,
    'original-size': (m) => m.originalSize,
    'target-volume-type': (m) => m.targetVolumeType,
    'original-volume-type': (m) => m.originalVolumeType,
    'start-time': (m) => m.startTime,
  });
  const page = paginate(filtered.sort(byId((m) => m.volumeId)), c.p, (m) => m.volumeId, { min: 5, max: 500 });
  return { volumeModificationSet: page.items.map((m) => modificationXml(c, m)), nextToken: page.nextToken };
};
