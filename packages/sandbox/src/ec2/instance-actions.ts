import { AwsError } from '../core/errors.js';
import { type Call, type Handler, iso, tables } from './call.js';
import { findInstance, findInstances } from './instance-view.js';
import { instanceState } from './lifecycle.js';
import type { InstanceRecord, InstanceTarget } from './records.js';

function ids(c: Call): string[] {
  const list = c.p.list('InstanceId');
  if (list.length === 0)
    throw new AwsError('MissingParameter', 'The request must contain the parameter InstanceId');
  return list;
}

function gmt(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} GMT`;
}

/**
 * One state change for several instances: every instance is checked first (AWS refuses the whole call when one
 * may not change), then each moves. `decide` says whether to move, or throws.
 */
function transition(c: Call, target: InstanceTarget, decide: (i: InstanceRecord, state: string) => boolean) {
  const list = findInstances(c, ids(c));
  const before = list.map((i) => instanceState(i, c.ctx, c.now));
  const moves = list.map((i, n) => decide(i, before[n]!.name));
  const out = list.map((i, n) => {
    let now = i;
    if (moves[n]) {
      now = {
        ...i,
        target,
        changedAt: iso(c.now),
        transitionReason: target === 'running' ? '' : `User initiated (${gmt(c.now)})`,
      };
      tables(c).instances.put(i.instanceId, now);
    }
    return {
      instanceId: i.instanceId,
      currentState: instanceState(now, c.ctx, c.now),
      previousState: before[n],
    };
  });
  return { instancesSet: out };
}

export const startInstances: Handler = (c) =>
  transition(c, 'running', (i, state) => {
    if (state === 'running' || state === 'pending') return false;
    if (state !== 'stopped') {
      throw new AwsError(
        'IncorrectInstanceState',
        `The instance '${i.instanceId}' is not in a state from which it can be started.`,
      );
    }
    return true;
  });

export const stopInstances: Handler = (c) =>
  transition(c, 'stopped', (i, state) => {
    if (state === 'stopped' || state === 'stopping') return false;
    if (state !== 'running') {
      throw new AwsError(
        'IncorrectInstanceState',
        `The instance '${i.instanceId}' is not in a state from which it can be stopped.`,
      );
    }
    if (i.disableApiStop) {
      throw new AwsError(
        'OperationNotPermitted',
        `The instance '${i.instanceId}' may not be stopped. Modify its 'disableApiStop' instance attribute and try again.`,
      );
    }
    return true;
  });

export const terminateInstances: Handler = (c) =>
  transition(c, 'terminated', (i, state) => {
    if (state === 'terminated' || state === 'shutting-down') return false;
    if (i.disableApiTermination) {
      throw new AwsError(
        'OperationNotPermitted',
        `The instance '${i.instanceId}' may not be terminated. Modify its 'disableApiTermination' instance attribute and try again.`,
      );
    }
    return true;
  });

const ATTRIBUTES = [
  'instanceType',
  'kernel',
  'ramdisk',
  'userData',
  'disableApiTermination',
  'instanceInitiatedShutdownBehavior',
  'rootDeviceName',
  'blockDeviceMapping',
  'productCodes',
  'sourceDestCheck',
  'groupSet',
  'ebsOptimized',
  'sriovNetSupport',
  'enaSupport',
  'enclaveOptions',
  'disableApiStop',
];

export const describeInstanceAttribute: Handler = (c) => {
  const i = findInstance(c, c.p.req('InstanceId'));
  const attr = c.p.req('Attribute');
  if (!ATTRIBUTES.includes(attr)) {
    throw new AwsError(
      'InvalidParameterValue',
      `Value (${attr}) for parameter attribute is invalid. Unknown attribute.`,
    );
  }
  const values: Record<string, unknown> = {
    instanceType: { value: i.instanceType },
    kernel: {},
    ramdisk: {},
    userData: {},
    disableApiTermination: { value: i.disableApiTermination },
    disableApiStop: { value: i.disableApiStop },
    instanceInitiatedShutdownBehavior: { value: 'stop' },
    rootDeviceName: { value: i.rootDeviceName },
    productCodes: [],
    sourceDestCheck: { value: true },
    groupSet: i.securityGroups.map((g) => ({ groupId: g.groupId, groupName: g.groupName })),
    ebsOptimized: { value: i.ebsOptimized },
    sriovNetSupport: {},
    enaSupport: { value: true },
    enclaveOptions: { enabled: false },
    blockDeviceMapping: [...tables(c).volumes.values()].flatMap((v) =>
      v.attachments
        .filter((a) => a.instanceId === i.instanceId)
        .map((a) => ({
          deviceName: a.device,
          ebs: {
            volumeId: v.volumeId,
            status: 'attached',
            attachTime: a.attachTime,
            deleteOnTermination: a.deleteOnTermination,
          },
        })),
    ),
  };
  return { instanceId: i.instanceId, [attr]: values[attr] as never };
};

/** A boolean attribute given as `Name.Value`, or as Attribute=name with Value. */
function boolAttr(c: Call, name: string, member: string): boolean | undefined {
  const v = c.p.sub(member)?.bool('Value');
  if (v !== undefined) return v;
  return c.p.str('Attribute') === name ? c.p.bool('Value') : undefined;
}

export const modifyInstanceAttribute: Handler = (c) => {
  const i = findInstance(c, c.p.req('InstanceId'));
  const next = { ...i };
  const term = boolAttr(c, 'disableApiTermination', 'DisableApiTermination');
  const stop = boolAttr(c, 'disableApiStop', 'DisableApiStop');
  const ebs = boolAttr(c, 'ebsOptimized', 'EbsOptimized');
  if (term !== undefined) next.disableApiTermination = term;
  if (stop !== undefined) next.disableApiStop = stop;
  if (ebs !== undefined) next.ebsOptimized = ebs;
  const type =
    c.p.sub('InstanceType')?.str('Value') ??
    (c.p.str('Attribute') === 'instanceType' ? c.p.str('Value') : undefined);
  if (type !== undefined) {
    if (instanceState(i, c.ctx, c.now).name !== 'stopped') {
      throw new AwsError(
        'IncorrectInstanceState',
        `The instance '${i.instanceId}' is not in the 'stopped' state.`,
      );
    }
    next.instanceType = type;
  }
  // DeleteOnTermination of attached volumes, by device name.
  for (const m of c.p.structs('BlockDeviceMapping')) {
    const device = m.req('DeviceName');
    const dot = m.sub('Ebs')?.bool('DeleteOnTermination');
    const v = [...tables(c).volumes.values()].find((x) =>
      x.attachments.some((a) => a.instanceId === i.instanceId && a.device === device),
    );
    if (!v) throw new AwsError('InvalidInstanceAttributeValue', `No device is currently mapped at ${device}`);
    if (dot !== undefined) {
      tables(c).volumes.put(v.volumeId, {
        ...v,
        attachments: v.attachments.map((a) =>
          a.instanceId === i.instanceId ? { ...a, deleteOnTermination: dot } : a,
        ),
      });
    }
  }
  tables(c).instances.put(i.instanceId, next);
  return { return: true };
};
