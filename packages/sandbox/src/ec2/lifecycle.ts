import type { SnapshotRecord, VolumeRecord } from '../core/model.js';
import type { SandboxContext } from '../core/service.js';
import { tables } from './call.js';
import type { InstanceRecord, VolumeModificationRecord } from './records.js';

/**
 * States are derived from stored targets and timestamps, never from timers in memory, so that they move while
 * nobody asks and come out right after a restart. Effects that change other records (a terminated instance's
 * volumes) are applied by settle(), which runs before every EC2 request.
 */

/** How long terminated instances stay visible, as on AWS (about an hour). */
export const TERMINATED_VISIBLE_MS = 60 * 60 * 1000;

const CODES: Record<string, number> = {
  pending: 0,
  running: 16,
  'shutting-down': 32,
  terminated: 48,
  stopping: 64,
  stopped: 80,
};

export function instanceState(
  i: InstanceRecord,
  ctx: SandboxContext,
  now: number,
): { code: number; name: string } {
  const done = now >= Date.parse(i.changedAt) + ctx.timing.instanceSeconds * 1000;
  const name =
    i.target === 'running'
      ? done
        ? 'running'
        : 'pending'
      : i.target === 'stopped'
        ? done
          ? 'stopped'
          : 'stopping'
        : done
          ? 'terminated'
          : 'shutting-down';
  return { code: CODES[name]!, name };
}

export function volumeStatus(v: VolumeRecord, now: number): string {
  if (now < Date.parse(v.availableAt)) return 'creating';
  return v.attachments.length > 0 ? 'in-use' : 'available';
}

export function attachmentStatus(
  a: VolumeRecord['attachments'][number],
  ctx: SandboxContext,
  now: number,
): string {
  if (a.state === 'attaching') {
    return now >= Date.parse(a.attachTime) + ctx.timing.volumeSeconds * 1000 ? 'attached' : 'attaching';
  }
  return a.state;
}

/** EBS direct snapshots are hidden for a moment after StartSnapshot, as AWS's are. */
export function snapshotVisible(s: SnapshotRecord, now: number): boolean {
  return !s.direct || now >= Date.parse(s.direct.visibleAt);
}

export function snapshotStatus(s: SnapshotRecord, now: number): { state: string; progress: string } {
  if (s.state === 'error' || s.direct?.status === 'error') return { state: 'error', progress: '0%' };
  // EBS direct snapshots stay pending until CompleteSnapshot, and fail when their Timeout passes first.
  if (s.direct?.status === 'pending') {
    return now > Date.parse(s.direct.timeoutAt)
      ? { state: 'error', progress: '0%' }
      : { state: 'pending', progress: '0%' };
  }
  const start = Date.parse(s.startTime);
  const end = Date.parse(s.completesAt);
  if (now >= end) return { state: 'completed', progress: '100%' };
  const pct = Math.min(99, Math.max(0, Math.floor(((now - start) / Math.max(1, end - start)) * 100)));
  return { state: 'pending', progress: `${pct}%` };
}

export function modificationState(
  m: VolumeModificationRecord,
  now: number,
): { state: string; progress: number } {
  if (now >= Date.parse(m.completesAt)) return { state: 'completed', progress: 100 };
  if (now >= Date.parse(m.optimizingAt)) {
    const a = Date.parse(m.optimizingAt);
    const b = Date.parse(m.completesAt);
    return { state: 'optimizing', progress: Math.floor(50 + ((now - a) / Math.max(1, b - a)) * 49) };
  }
  return { state: 'modifying', progress: 0 };
}

/** Applies the effects that time has made due: detachments, terminations, and forgetting old instances. */
export function settle(ctx: SandboxContext, now: number): void {
  const t = tables({ ctx });
  for (const timer of [...t.timers.values()]) {
    if (Date.parse(timer.at) > now) continue;
    const v = t.volumes.get(timer.volumeId);
    if (v) {
      t.volumes.put(v.volumeId, {
        ...v,
        attachments: v.attachments.filter((a) => a.instanceId !== timer.instanceId),
      });
    }
    t.timers.delete(timer.id);
  }
  for (const i of [...t.instances.values()]) {
    if (i.target !== 'terminated') continue;
    const done = now >= Date.parse(i.changedAt) + ctx.timing.instanceSeconds * 1000;
    if (done && !i.finalized) finalizeTermination(ctx, i);
    if (now >= Date.parse(i.changedAt) + TERMINATED_VISIBLE_MS) t.instances.delete(i.instanceId);
  }
}

/** DeleteOnTermination volumes go with the instance; the others are detached and stay. */
function finalizeTermination(ctx: SandboxContext, i: InstanceRecord): void {
  const t = tables({ ctx });
  for (const v of [...t.volumes.values()]) {
    const a = v.attachments.find((x) => x.instanceId === i.instanceId);
    if (!a) continue;
    if (a.deleteOnTermination) {
      ctx.blocks.deleteVolume(v.volumeId);
      t.volumes.delete(v.volumeId);
    } else {
      t.volumes.put(v.volumeId, {
        ...v,
        attachments: v.attachments.filter((x) => x.instanceId !== i.instanceId),
      });
    }
  }
  t.instances.put(i.instanceId, { ...i, finalized: true, iamProfile: undefined });
}
