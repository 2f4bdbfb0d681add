import { AwsError } from '../core/errors.js';
import { checkId, type Handler, iso, later, tables } from './call.js';
import { instanceState, volumeStatus } from './lifecycle.js';
import { attachmentXml, findVolume } from './volumes.js';

export const attachVolume: Handler = (c) => {
  const v = findVolume(c, c.p.req('VolumeId'));
  const instanceId = c.p.req('InstanceId');
  const device = c.p.req('Device');
  checkId('i', instanceId, 'InvalidInstanceID.Malformed');
  const i = tables(c).instances.get(instanceId);
  if (!i || i.ownerId !== c.accountId || i.region !== c.region) {
    throw new AwsError('InvalidInstanceID.NotFound', `The instance ID '${instanceId}' does not exist`);
  }
  const status = volumeStatus(v, c.now);
  if (status === 'in-use')
    throw new AwsError('VolumeInUse', `${v.volumeId} is already attached to an instance`);
  if (status !== 'available') throw new AwsError('IncorrectState', `${v.volumeId} is not 'available'.`);
  const state = instanceState(i, c.ctx, c.now).name;
  if (state !== 'running' && state !== 'stopped') {
    throw new AwsError('IncorrectState', `Instance '${instanceId}' is not 'running'.`);
  }
  if (v.availabilityZone !== i.availabilityZone) {
    throw new AwsError(
      'InvalidVolume.ZoneMismatch',
      `The volume '${v.volumeId}' is not in the same availability zone as instance '${instanceId}'`,
    );
  }
  const busy = [...tables(c).volumes.values()].some((x) =>
    x.attachments.some((a) => a.instanceId === instanceId && a.device === device),
  );
  if (busy || device === i.rootDeviceName) {
    throw new AwsError(
      'InvalidParameterValue',
      `Invalid value '${device}' for unixDevice. Attachment point ${device} is already in use`,
    );
  }
  const a = {
    instanceId,
    device,
    attachTime: iso(c.now),
    deleteOnTermination: false,
    state: 'attaching' as const,
  };
  const updated = { ...v, attachments: [a] };
  tables(c).volumes.put(v.volumeId, updated);
  return attachmentXml(c, updated, a);
};

export const detachVolume: Handler = (c) => {
  const v = findVolume(c, c.p.req('VolumeId'));
  const a = v.attachments[0];
  if (!a)
    throw new AwsError(
      'IncorrectState',
      `Volume '${v.volumeId}' is in the '${volumeStatus(v, c.now)}' state.`,
    );
  const instanceId = c.p.str('InstanceId');
  if (instanceId && instanceId !== a.instanceId) {
    throw new AwsError(
      'InvalidAttachment.NotFound',
      `Volume '${v.volumeId}' is not attached to instance '${instanceId}'`,
    );
  }
  const i = tables(c).instances.get(a.instanceId);
  // The root volume of a running instance cannot go, forced or not.
  if (i && a.device === i.rootDeviceName && instanceState(i, c.ctx, c.now).name !== 'stopped') {
    throw new AwsError(
      'IncorrectState',
      `Unable to detach root volume '${v.volumeId}' from instance '${a.instanceId}'`,
    );
  }
  if (a.state === 'detaching') return attachmentXml(c, v, a);
  const detaching = { ...a, state: 'detaching' as const };
  const updated = { ...v, attachments: [detaching] };
  tables(c).volumes.put(v.volumeId, updated);
  const timerId = `detach:${v.volumeId}`;
  tables(c).timers.put(timerId, {
    id: timerId,
    at: later(c, c.ctx.timing.volumeSeconds),
    kind: 'detach',
    volumeId: v.volumeId,
    instanceId: a.instanceId,
  });
  return attachmentXml(c, updated, detaching);
};
