import { createHash } from 'node:crypto';
import { AwsError } from '../core/errors.js';
import { instanceProfileOf } from '../iam/profiles.js';
import { byId, type Call, type Handler, iso, mine, tables } from './call.js';
import { applyFilters } from './filters.js';
import { findInstance } from './instance-view.js';
import { instanceState } from './lifecycle.js';
import { paginate } from './paging.js';
import type { Params } from './query.js';
import type { InstanceRecord } from './records.js';

/**
 * Instance profiles by Arn or Name: IAM's profile (its ARN and AIPA... id) when the account has one by that name
 * or ARN; any other well-formed profile is still accepted, with an id derived from its ARN so that it is stable
 * (the sandbox does not require profiles to be made through IAM first).
 */
export function instanceProfile(c: Call, p: Params): NonNullable<InstanceRecord['iamProfile']> {
  const arnParam = p.str('Arn');
  const name = p.str('Name');
  if (!arnParam && !name)
    throw new AwsError('MissingParameter', 'The request must contain the parameter IamInstanceProfile');
  const arn = arnParam ?? `arn:aws:iam::${c.accountId}:instance-profile/${name}`;
  if (!/^arn:aws:iam::\d{12}:instance-profile\/.+/.test(arn)) {
    throw new AwsError(
      'InvalidParameterValue',
      `Value (${arn}) for parameter iamInstanceProfile.arn is invalid.`,
    );
  }
  const iam = instanceProfileOf(c.ctx, c.accountId, arnParam ? { arn: arnParam } : { name });
  if (iam)
    return { associationId: c.ctx.newId('iip-assoc'), arn: iam.arn, id: iam.id, associatedAt: iso(c.now) };
  const id = `AIPA${createHash('sha256').update(arn).digest('hex').slice(0, 17).toUpperCase()}`;
  return { associationId: c.ctx.newId('iip-assoc'), arn, id, associatedAt: iso(c.now) };
}

function associationXml(i: InstanceRecord, state: string) {
  const a = i.iamProfile!;
  return {
    associationId: a.associationId,
    instanceId: i.instanceId,
    iamInstanceProfile: { arn: a.arn, id: a.id },
    state,
    timestamp: a.associatedAt,
  };
}

export const associateIamInstanceProfile: Handler = (c) => {
  const i = findInstance(c, c.p.req('InstanceId'));
  const spec = c.p.sub('IamInstanceProfile');
  if (!spec)
    throw new AwsError('MissingParameter', 'The request must contain the parameter IamInstanceProfile');
  const state = instanceState(i, c.ctx, c.now).name;
  if (state !== 'running' && state !== 'stopped' && state !== 'pending') {
    throw new AwsError(
      'IncorrectInstanceState',
      `The instance '${i.instanceId}' is not in the 'running' or 'stopped' states.`,
    );
  }
  if (i.iamProfile) {
    throw new AwsError('IncorrectState', `There is an existing association for instance ${i.instanceId}`);
  }
  const updated = { ...i, iamProfile: instanceProfile(c, spec) };
  tables(c).instances.put(i.instanceId, updated);
  return { iamInstanceProfileAssociation: associationXml(updated, 'associating') };
};

export const describeIamInstanceProfileAssociations: Handler = (c) => {
  const ids = c.p.list('AssociationId');
  const associated = mine(c, tables(c).instances).filter((i) => i.iamProfile && !i.finalized);
  for (const id of ids) {
    if (!associated.some((i) => i.iamProfile!.associationId === id)) {
      throw new AwsError('InvalidAssociationID.NotFound', `An association with ID ${id} does not exist.`);
    }
  }
  const rows = associated.filter((i) => ids.length === 0 || ids.includes(i.iamProfile!.associationId));
  const filtered = applyFilters(rows, c.p.filters(), {
    'instance-id': (i) => i.instanceId,
    state: () => 'associated',
  });
  const key = (i: InstanceRecord) => i.iamProfile!.associationId;
  const page = paginate(filtered.sort(byId(key)), c.p, key, { min: 5, max: 1000 }, 'AssociationId');
  return {
    iamInstanceProfileAssociationSet: page.items.map((i) => associationXml(i, 'associated')),
    nextToken: page.nextToken,
  };
};

export const disassociateIamInstanceProfile: Handler = (c) => {
  const id = c.p.req('AssociationId');
  const i = mine(c, tables(c).instances).find((x) => x.iamProfile?.associationId === id);
  if (!i) throw new AwsError('InvalidAssociationID.NotFound', `An association with ID ${id} does not exist.`);
  tables(c).instances.put(i.instanceId, { ...i, iamProfile: undefined });
  return { iamInstanceProfileAssociation: associationXml(i, 'disassociating') };
};
