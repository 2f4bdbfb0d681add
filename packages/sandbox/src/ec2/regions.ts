import { AwsError } from '../core/errors.js';
import type { RegionInfo } from '../core/model.js';
import type { Call, Handler } from './call.js';
import { applyFilters } from './filters.js';

const DIRECTIONS: Record<string, string> = {
  north: 'n',
  south: 's',
  east: 'e',
  west: 'w',
  central: 'c',
  northeast: 'ne',
  southeast: 'se',
  northwest: 'nw',
  southwest: 'sw',
};

/** AWS's zone ids (use1-az1): the region abbreviated, then the zone's number. */
export function zoneId(region: string, zone: string, zones: string[]): string {
  const parts = region.split('-');
  const abbrev =
    parts[0]! +
    parts
      .slice(1, -1)
      .map((p) => DIRECTIONS[p] ?? p[0])
      .join('') +
    parts[parts.length - 1];
  return `${abbrev}-az${zones.indexOf(zone) + 1}`;
}

export function regionOf(c: Call): RegionInfo {
  const r = c.ctx.regions.find((x) => x.name === c.region);
  if (!r) throw new AwsError('InvalidParameterValue', `Invalid region: ${c.region}`);
  return r;
}

/** A zone of the request's region; AWS answers InvalidZone.NotFound for others. */
export function checkZone(c: Call, zone: string): string {
  if (!regionOf(c).zones.includes(zone))
    throw new AwsError('InvalidZone.NotFound', `The zone '${zone}' does not exist.`);
  return zone;
}

export const describeRegions: Handler = (c) => {
  const names = c.p.list('RegionName');
  for (const n of names) {
    if (!c.ctx.regions.some((r) => r.name === n))
      throw new AwsError('InvalidParameterValue', `Invalid region: ${n}`);
  }
  const rows = c.ctx.regions
    .filter((r) => names.length === 0 || names.includes(r.name))
    .map((r) => ({
      regionName: r.name,
      regionEndpoint: `ec2.${r.name}.amazonaws.com`,
      optInStatus: 'opt-in-not-required',
    }));
  const filtered = applyFilters(rows, c.p.filters(), {
    'region-name': (r) => r.regionName,
    endpoint: (r) => r.regionEndpoint,
    'opt-in-status': (r) => r.optInStatus,
  });
  return { regionInfo: filtered };
};

export const describeAvailabilityZones: Handler = (c) => {
  const region = regionOf(c);
  const names = c.p.list('ZoneName');
  const ids = c.p.list('ZoneId');
  const rows = region.zones.map((z) => ({
    zoneState: 'available',
    optInStatus: 'opt-in-not-required',
    messageSet: [],
    regionName: region.name,
    zoneName: z,
    zoneId: zoneId(region.name, z, region.zones),
    groupName: region.name,
    networkBorderGroup: region.name,
    zoneType: 'availability-zone',
  }));
  for (const n of names) {
    if (!rows.some((r) => r.zoneName === n))
      throw new AwsError('InvalidParameterValue', `Invalid availability zone: [${n}]`);
  }
  const selected = rows.filter(
    (r) => (names.length === 0 && ids.length === 0) || names.includes(r.zoneName) || ids.includes(r.zoneId),
  );
  const filtered = applyFilters(selected, c.p.filters(), {
    'zone-name': (r) => r.zoneName,
    'zone-id': (r) => r.zoneId,
    'region-name': (r) => r.regionName,
    state: (r) => r.zoneState,
    'zone-type': (r) => r.zoneType,
    'group-name': (r) => r.groupName,
    'opt-in-status': (r) => r.optInStatus,
  });
  return { availabilityZoneInfo: filtered };
};
