import { AwsError } from '../core/errors.js';
import { byId, type Call, checkId, type Handler, mine, tables } from './call.js';
import { applyFilters } from './filters.js';
import { paginate } from './paging.js';
import type { Params } from './query.js';
import type { IpPermission, SecurityGroupRecord } from './records.js';
import { tagSet, tagSpecs } from './tags.js';
import { defaultSubnet, findVpc } from './vpcs.js';

export function findGroup(c: Call, groupId: string): SecurityGroupRecord {
  checkId('sg', groupId, 'InvalidGroupId.Malformed');
  const g = tables(c).groups.get(groupId);
  if (!g || g.ownerId !== c.accountId || g.region !== c.region) {
    throw new AwsError('InvalidGroup.NotFound', `The security group '${groupId}' does not exist`);
  }
  return g;
}

/** Without a VPC, names refer to the default VPC's groups (as in EC2-Classic's successor). */
function findGroupByName(c: Call, name: string, vpcId?: string): SecurityGroupRecord {
  const vpc = vpcId ?? defaultSubnet(c).vpcId;
  const g = mine(c, tables(c).groups).find((x) => x.groupName === name && x.vpcId === vpc);
  if (!g) {
    throw new AwsError(
      'InvalidGroup.NotFound',
      `The security group '${name}' does not exist in default VPC '${vpc}'`,
    );
  }
  return g;
}

function groupXml(g: SecurityGroupRecord) {
  const perm = (p: IpPermission) => ({
    ipProtocol: p.ipProtocol,
    fromPort: p.fromPort,
    toPort: p.toPort,
    groups: p.groups.map((x) => ({ groupId: x.groupId, userId: x.userId })),
    ipRanges: p.ipRanges.map((r) => ({ cidrIp: r.cidrIp, description: r.description })),
    ipv6Ranges: [],
    prefixListIds: [],
  });
  return {
    ownerId: g.ownerId,
    groupId: g.groupId,
    groupName: g.groupName,
    groupDescription: g.description,
    vpcId: g.vpcId,
    ipPermissions: g.ingress.map(perm),
    ipPermissionsEgress: g.egress.map(perm),
    tagSet: tagSet(g.tags),
  };
}

export const createSecurityGroup: Handler = (c) => {
  const name = c.p.req('GroupName');
  const description = c.p.req('GroupDescription');
  const vpcId = c.p.str('VpcId') ?? defaultSubnet(c).vpcId;
  findVpc(c, vpcId);
  if (name.toLowerCase().startsWith('sg-')) {
    throw new AwsError('InvalidParameterValue', 'Group names may not be in the format sg-*.');
  }
  if (mine(c, tables(c).groups).some((g) => g.vpcId === vpcId && g.groupName === name)) {
    throw new AwsError(
      'InvalidGroup.Duplicate',
      `The security group '${name}' already exists for VPC '${vpcId}'`,
    );
  }
  const tags = tagSpecs(c.p, ['security-group']).get('security-group') ?? [];
  const g: SecurityGroupRecord = {
    groupId: c.ctx.newId('sg'),
    groupName: name,
    description,
    vpcId,
    ownerId: c.accountId,
    region: c.region,
    ingress: [],
    egress: [{ ipProtocol: '-1', ipRanges: [{ cidrIp: '0.0.0.0/0' }], groups: [] }],
    tags,
  };
  tables(c).groups.put(g.groupId, g);
  return { return: true, groupId: g.groupId, tagSet: tagSet(tags) };
};

export const describeSecurityGroups: Handler = (c) => {
  const ids = c.p.list('GroupId');
  const names = c.p.list('GroupName');
  const picked = [...ids.map((id) => findGroup(c, id)), ...names.map((n) => findGroupByName(c, n))];
  const rows = ids.length || names.length ? picked : mine(c, tables(c).groups);
  const filtered = applyFilters(
    rows,
    c.p.filters(),
    {
      'group-id': (g) => g.groupId,
      'group-name': (g) => g.groupName,
      description: (g) => g.description,
      'vpc-id': (g) => g.vpcId,
      'owner-id': (g) => g.ownerId,
    },
    (g) => g.tags,
  );
  const page = paginate(
    filtered.sort(byId((g) => g.groupId)),
    c.p,
    (g) => g.groupId,
    { min: 5, max: 1000 },
    'GroupId',
  );
  return { securityGroupInfo: page.items.map(groupXml), nextToken: page.nextToken };
};

export const deleteSecurityGroup: Handler = (c) => {
  const id = c.p.str('GroupId');
  const g = id ? findGroup(c, id) : findGroupByName(c, c.p.req('GroupName'));
  if (g.groupName === 'default') {
    throw new AwsError(
      'CannotDelete',
      `the specified group: "${g.groupId}" name: "default" cannot be deleted by a user`,
    );
  }
  const used = [...tables(c).instances.values()].some(
    (i) => !i.finalized && i.securityGroups.some((s) => s.groupId === g.groupId),
  );
  if (used) throw new AwsError('DependencyViolation', `resource ${g.groupId} has a dependent object`);
  tables(c).groups.delete(g.groupId);
  return { return: true };
};

function parsePermissions(c: Call, p: Params): IpPermission[] {
  const perms = p.structs('IpPermissions').map((x) => ({
    ipProtocol: x.req('IpProtocol'),
    fromPort: x.int('FromPort'),
    toPort: x.int('ToPort'),
    ipRanges: x
      .structs('IpRanges')
      .map((r) => ({ cidrIp: r.req('CidrIp'), description: r.str('Description') })),
    groups: x
      .structs('Groups')
      .map((gr) => ({ groupId: gr.req('GroupId'), userId: gr.str('UserId') ?? c.accountId })),
  }));
  // The older flat form: one rule from IpProtocol/FromPort/ToPort/CidrIp.
  const proto = p.str('IpProtocol');
  if (proto) {
    const cidr = p.str('CidrIp');
    perms.push({
      ipProtocol: proto,
      fromPort: p.int('FromPort'),
      toPort: p.int('ToPort'),
      ipRanges: cidr ? [{ cidrIp: cidr, description: undefined }] : [],
      groups: [],
    });
  }
  if (perms.length === 0)
    throw new AwsError('MissingParameter', 'The request must contain the parameter ipPermissions');
  return perms;
}

export const authorizeSecurityGroupIngress: Handler = (c) => {
  const id = c.p.str('GroupId');
  const g = id ? findGroup(c, id) : findGroupByName(c, c.p.req('GroupName'));
  const perms = parsePermissions(c, c.p);
  const same = (a: IpPermission, b: IpPermission) => JSON.stringify(a) === JSON.stringify(b);
  for (const perm of perms) {
    if (g.ingress.some((x) => same(x, perm))) {
      throw new AwsError('InvalidPermission.Duplicate', 'the specified rule already exists');
    }
  }
  tables(c).groups.put(g.groupId, { ...g, ingress: [...g.ingress, ...perms] });
  const rules = perms.flatMap((perm) =>
    (perm.ipRanges.length ? perm.ipRanges : [{ cidrIp: undefined }]).map((r) => ({
      securityGroupRuleId: c.ctx.newId('sgr'),
      groupId: g.groupId,
      groupOwnerId: g.ownerId,
      isEgress: false,
      ipProtocol: perm.ipProtocol,
      fromPort: perm.fromPort ?? -1,
      toPort: perm.toPort ?? -1,
      cidrIpv4: r.cidrIp,
    })),
  );
  return { return: true, securityGroupRuleSet: rules };
};
