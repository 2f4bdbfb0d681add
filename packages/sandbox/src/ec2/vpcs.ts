import { AwsError } from '../core/errors.js';
import { byId, type Call, checkId, type Handler, iso, mine, tables } from './call.js';
import { contains, overlaps, parseCidr, size } from './cidr.js';
import { applyFilters } from './filters.js';
import { paginate } from './paging.js';
import type { SecurityGroupRecord, SubnetRecord, VpcRecord } from './records.js';
import { checkZone, regionOf, zoneId } from './regions.js';
import { tagSet, tagSpecs } from './tags.js';

/**
 * Every account has a default VPC in every region (172.31.0.0/16, one /20 subnet per zone, a "default" security
 * group), as AWS accounts do. Made on the account's first call in a region; a mark keeps it from being remade.
 */
export function ensureDefaultVpc(c: Call): void {
  const t = tables(c);
  const mark = `default-vpc:${c.accountId}:${c.region}`;
  if (t.marks.has(mark)) return;
  const vpc = putVpc(c, '172.31.0.0/16', true, []);
  regionOf(c).zones.forEach((zone, i) => {
    putSubnet(c, vpc, zone, `172.31.${i * 16}.0/20`, true, []);
  });
  t.marks.put(mark, { id: mark, at: iso(c.now) });
}

function putVpc(c: Call, cidr: string, isDefault: boolean, tags: VpcRecord['tags']): VpcRecord {
  const vpc: VpcRecord = {
    vpcId: c.ctx.newId('vpc'),
    ownerId: c.accountId,
    region: c.region,
    cidrBlock: cidr,
    isDefault,
    cidrAssociationId: c.ctx.newId('vpc-cidr-assoc'),
    dhcpOptionsId: c.ctx.newId('dopt'),
    tags,
  };
  tables(c).vpcs.put(vpc.vpcId, vpc);
  const sg: SecurityGroupRecord = {
    groupId: c.ctx.newId('sg'),
    groupName: 'default',
    description: 'default VPC security group',
    vpcId: vpc.vpcId,
    ownerId: c.accountId,
    region: c.region,
    ingress: [],
    egress: [{ ipProtocol: '-1', ipRanges: [{ cidrIp: '0.0.0.0/0' }], groups: [] }],
    tags: [],
  };
  sg.ingress.push({ ipProtocol: '-1', ipRanges: [], groups: [{ groupId: sg.groupId, userId: c.accountId }] });
  tables(c).groups.put(sg.groupId, sg);
  return vpc;
}

function putSubnet(
  c: Call,
  vpc: VpcRecord,
  zone: string,
  cidr: string,
  isDefault: boolean,
  tags: SubnetRecord['tags'],
): SubnetRecord {
  const subnet: SubnetRecord = {
    subnetId: c.ctx.newId('subnet'),
    vpcId: vpc.vpcId,
    ownerId: c.accountId,
    region: c.region,
    availabilityZone: zone,
    availabilityZoneId: zoneId(c.region, zone, regionOf(c).zones),
    cidrBlock: cidr,
    defaultForAz: isDefault,
    mapPublicIpOnLaunch: isDefault,
    allocated: 0,
    tags,
  };
  tables(c).subnets.put(subnet.subnetId, subnet);
  return subnet;
}

export function findVpc(c: Call, vpcId: string): VpcRecord {
  checkId('vpc', vpcId, 'InvalidVpcID.Malformed');
  const vpc = tables(c).vpcs.get(vpcId);
  if (!vpc || vpc.ownerId !== c.accountId || vpc.region !== c.region) {
    throw new AwsError('InvalidVpcID.NotFound', `The vpc ID '${vpcId}' does not exist`);
  }
  return vpc;
}

export function findSubnet(c: Call, subnetId: string): SubnetRecord {
  checkId('subnet', subnetId, 'InvalidSubnetID.Malformed');
  const s = tables(c).subnets.get(subnetId);
  if (!s || s.ownerId !== c.accountId || s.region !== c.region) {
    throw new AwsError('InvalidSubnetID.NotFound', `The subnet ID '${subnetId}' does not exist`);
  }
  return s;
}

export function defaultSubnet(c: Call, zone?: string): SubnetRecord {
  const subnets = mine(c, tables(c).subnets).filter(
    (s) => s.defaultForAz && (!zone || s.availabilityZone === zone),
  );
  const first = subnets.sort(byId((s) => s.availabilityZone))[0];
  if (!first) throw new AwsError('VPCIdNotSpecified', 'No default VPC for this user');
  return first;
}

/** The next free host address of a subnet (AWS reserves the first four and the last). */
export function allocateIp(c: Call, subnet: SubnetRecord): string {
  const cidr = parseCidr(subnet.cidrBlock)!;
  const n = subnet.allocated + 4;
  if (n >= size(cidr) - 1) {
    throw new AwsError(
      'InsufficientFreeAddressesInSubnet',
      `There are not enough free addresses in subnet '${subnet.subnetId}' to satisfy the requested number of instances.`,
    );
  }
  tables(c).subnets.put(subnet.subnetId, { ...subnet, allocated: subnet.allocated + 1 });
  const a = cidr.base + n;
  return [24, 16, 8, 0].map((s) => Math.floor(a / 2 ** s) % 256).join('.');
}

function vpcXml(v: VpcRecord) {
  return {
    cidrBlock: v.cidrBlock,
    dhcpOptionsId: v.dhcpOptionsId,
    state: 'available',
    vpcId: v.vpcId,
    ownerId: v.ownerId,
    instanceTenancy: 'default',
    cidrBlockAssociationSet: [
      { associationId: v.cidrAssociationId, cidrBlock: v.cidrBlock, cidrBlockState: { state: 'associated' } },
    ],
    isDefault: v.isDefault,
    tagSet: tagSet(v.tags),
  };
}

function subnetXml(s: SubnetRecord) {
  return {
    availabilityZone: s.availabilityZone,
    availabilityZoneId: s.availabilityZoneId,
    availableIpAddressCount: size(parseCidr(s.cidrBlock)!) - 5 - s.allocated,
    cidrBlock: s.cidrBlock,
    defaultForAz: s.defaultForAz,
    mapPublicIpOnLaunch: s.mapPublicIpOnLaunch,
    state: 'available',
    subnetId: s.subnetId,
    vpcId: s.vpcId,
    ownerId: s.ownerId,
    assignIpv6AddressOnCreation: false,
    ipv6CidrBlockAssociationSet: [],
    tagSet: tagSet(s.tags),
    subnetArn: `arn:aws:ec2:${s.region}:${s.ownerId}:subnet/${s.subnetId}`,
  };
}

export const createVpc: Handler = (c) => {
  const cidrText = c.p.req('CidrBlock');
  const cidr = parseCidr(cidrText);
  if (!cidr || cidr.bits < 16 || cidr.bits > 28) {
    throw new AwsError('InvalidVpc.Range', `The CIDR '${cidrText}' is invalid.`);
  }
  const tags = tagSpecs(c.p, ['vpc']).get('vpc') ?? [];
  return { vpc: vpcXml(putVpc(c, cidrText, false, tags)) };
};

export const describeVpcs: Handler = (c) => {
  const ids = c.p.list('VpcId');
  for (const id of ids) findVpc(c, id);
  const rows = mine(c, tables(c).vpcs).filter((v) => ids.length === 0 || ids.includes(v.vpcId));
  const filtered = applyFilters(
    rows,
    c.p.filters(),
    {
      'vpc-id': (v) => v.vpcId,
      cidr: (v) => v.cidrBlock,
      'cidr-block-association.cidr-block': (v) => v.cidrBlock,
      'is-default': (v) => v.isDefault,
      state: () => 'available',
      'owner-id': (v) => v.ownerId,
      'dhcp-options-id': (v) => v.dhcpOptionsId,
    },
    (v) => v.tags,
  );
  const page = paginate(
    filtered.sort(byId((v) => v.vpcId)),
    c.p,
    (v) => v.vpcId,
    { min: 5, max: 1000 },
    'VpcId',
  );
  return { vpcSet: page.items.map(vpcXml), nextToken: page.nextToken };
};

export const deleteVpc: Handler = (c) => {
  const vpc = findVpc(c, c.p.req('VpcId'));
  const t = tables(c);
  const inUse =
    [...t.subnets.values()].some((s) => s.vpcId === vpc.vpcId) ||
    [...t.groups.values()].some((g) => g.vpcId === vpc.vpcId && g.groupName !== 'default');
  if (inUse) {
    throw new AwsError(
      'DependencyViolation',
      `The vpc '${vpc.vpcId}' has dependencies and cannot be deleted.`,
    );
  }
  for (const g of [...t.groups.values()]) if (g.vpcId === vpc.vpcId) t.groups.delete(g.groupId);
  t.vpcs.delete(vpc.vpcId);
  return { return: true };
};

export const createSubnet: Handler = (c) => {
  const vpc = findVpc(c, c.p.req('VpcId'));
  const cidrText = c.p.req('CidrBlock');
  const cidr = parseCidr(cidrText);
  if (!cidr || cidr.bits > 28 || !contains(parseCidr(vpc.cidrBlock)!, cidr)) {
    throw new AwsError('InvalidSubnet.Range', `The CIDR '${cidrText}' is invalid.`);
  }
  const siblings = [...tables(c).subnets.values()].filter((s) => s.vpcId === vpc.vpcId);
  if (siblings.some((s) => overlaps(parseCidr(s.cidrBlock)!, cidr))) {
    throw new AwsError('InvalidSubnet.Conflict', `The CIDR '${cidrText}' conflicts with another subnet`);
  }
  const zones = regionOf(c).zones;
  const zoneById = c.p.str('AvailabilityZoneId');
  const zone =
    c.p.str('AvailabilityZone') ?? zones.find((z) => zoneId(c.region, z, zones) === zoneById) ?? zones[0]!;
  checkZone(c, zone);
  const tags = tagSpecs(c.p, ['subnet']).get('subnet') ?? [];
  return { subnet: subnetXml(putSubnet(c, vpc, zone, cidrText, false, tags)) };
};

export const describeSubnets: Handler = (c) => {
  const ids = c.p.list('SubnetId');
  for (const id of ids) findSubnet(c, id);
  const rows = mine(c, tables(c).subnets).filter((s) => ids.length === 0 || ids.includes(s.subnetId));
  const filtered = applyFilters(
    rows,
    c.p.filters(),
    {
      'subnet-id': (s) => s.subnetId,
      'vpc-id': (s) => s.vpcId,
      'availability-zone': (s) => s.availabilityZone,
      'availability-zone-id': (s) => s.availabilityZoneId,
      'cidr-block': (s) => s.cidrBlock,
      cidr: (s) => s.cidrBlock,
      cidrBlock: (s) => s.cidrBlock,
      'default-for-az': (s) => s.defaultForAz,
      defaultForAz: (s) => s.defaultForAz,
      state: () => 'available',
      'owner-id': (s) => s.ownerId,
    },
    (s) => s.tags,
  );
  const page = paginate(
    filtered.sort(byId((s) => s.subnetId)),
    c.p,
    (s) => s.subnetId,
    { min: 5, max: 1000 },
    'SubnetId',
  );
  return { subnetSet: page.items.map(subnetXml), nextToken: page.nextToken };
};

export const deleteSubnet: Handler = (c) => {
  const subnet = findSubnet(c, c.p.req('SubnetId'));
  const t = tables(c);
  const used = [...t.instances.values()].some((i) => i.subnetId === subnet.subnetId && !i.finalized);
  if (used) {
    throw new AwsError(
      'DependencyViolation',
      `The subnet '${subnet.subnetId}' has dependencies and cannot be deleted.`,
    );
  }
  t.subnets.delete(subnet.subnetId);
  return { return: true };
};
