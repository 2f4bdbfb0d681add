import { AwsError } from '../core/errors.js';
import { header, ownBucket, type S3Call, type S3Handler } from './call.js';
import { accessDenied, invalidArgument, lockMissing } from './errors.js';
import { hasIntegrityHeader, readSmallBody } from './receive.js';
import type { BucketRecord, LockMode, VersionRecord } from './records.js';
import { selectVersion, versionHeaders } from './versioning.js';
import { child, childText, malformedXml, parseBody, sendEmpty, sendXml } from './xml.js';

const DAY_MS = 86_400_000;

export interface LockSettings {
  retention?: { mode: LockMode; until: string };
  legalHold?: 'ON' | 'OFF';
}

function mode(value: string | undefined): LockMode {
  if (value === 'GOVERNANCE' || value === 'COMPLIANCE') return value;
  throw malformedXml();
}

/**
 * Object Lock settings of a new object: the x-amz-object-lock-* headers, else the bucket's default retention.
 * Headers on a bucket without Object Lock are refused, as AWS refuses them.
 */
export function lockForNewObject(c: S3Call, b: BucketRecord): LockSettings {
  const m = header(c, 'x-amz-object-lock-mode');
  const until = header(c, 'x-amz-object-lock-retain-until-date');
  const hold = header(c, 'x-amz-object-lock-legal-hold');
  if ((m || until || hold) && !b.objectLock) throw lockMissing();
  if (!b.objectLock) return {};
  if (!!m !== !!until) {
    throw invalidArgument(
      'x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied',
      m ? 'x-amz-object-lock-retain-until-date' : 'x-amz-object-lock-mode',
      '',
    );
  }
  if (
    (m || hold) &&
    !hasIntegrityHeader(c.req) &&
    c.req.method === 'PUT' &&
    !header(c, 'x-amz-copy-source')
  ) {
    throw new AwsError(
      'InvalidRequest',
      'Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests with Object Lock parameters',
      400,
    );
  }
  const out: LockSettings = {};
  if (hold !== undefined) {
    if (hold !== 'ON' && hold !== 'OFF')
      throw invalidArgument('Legal Hold must be either of ON or OFF', 'x-amz-object-lock-legal-hold', hold);
    out.legalHold = hold;
  }
  if (m && until) out.retention = { mode: checkedMode(m), until: futureDate(c, until) };
  else if (b.lockDefault) out.retention = defaultRetention(c, b);
  return out;
}

function checkedMode(m: string): LockMode {
  if (m !== 'GOVERNANCE' && m !== 'COMPLIANCE')
    throw invalidArgument('Unknown wormMode directive.', 'x-amz-object-lock-mode', m);
  return m;
}

function futureDate(c: S3Call, value: string): string {
  const t = Date.parse(value);
  if (Number.isNaN(t))
    throw invalidArgument(
      'The retain until date must be provided in ISO 8601 format',
      'x-amz-object-lock-retain-until-date',
      value,
    );
  if (t <= c.now)
    throw invalidArgument(
      'The retain until date must be in the future!',
      'x-amz-object-lock-retain-until-date',
      value,
    );
  return new Date(t).toISOString();
}

function defaultRetention(c: S3Call, b: BucketRecord): { mode: LockMode; until: string } {
  const d = b.lockDefault as NonNullable<BucketRecord['lockDefault']>;
  const days = d.days ?? (d.years ?? 0) * 365;
  return { mode: d.mode, until: new Date(c.now + days * DAY_MS).toISOString() };
}

function activeRetention(v: VersionRecord, now: number): VersionRecord['retention'] {
  return v.retention && Date.parse(v.retention.until) > now ? v.retention : undefined;
}

function bypass(c: S3Call): boolean {
  return header(c, 'x-amz-bypass-governance-retention')?.toLowerCase() === 'true';
}

/** Refuses deleting a version under legal hold, COMPLIANCE retention, or GOVERNANCE retention without bypass. */
export function checkDeletable(c: S3Call, v: VersionRecord): void {
  const r = activeRetention(v, c.now);
  const held = v.legalHold === 'ON';
  if (held || r?.mode === 'COMPLIANCE' || (r?.mode === 'GOVERNANCE' && !bypass(c))) {
    throw accessDenied('Access Denied because object protected by object lock.');
  }
}

/** Headers reporting a version's lock state (GET, HEAD). */
export function lockHeaders(v: VersionRecord): Record<string, string> {
  const out: Record<string, string> = {};
  if (v.retention) {
    out['x-amz-object-lock-mode'] = v.retention.mode;
    out['x-amz-object-lock-retain-until-date'] = v.retention.until;
  }
  if (v.legalHold) out['x-amz-object-lock-legal-hold'] = v.legalHold;
  return out;
}

function lockedBucket(c: S3Call): BucketRecord {
  const b = ownBucket(c);
  if (!b.objectLock) throw lockMissing();
  return b;
}

export const putObjectLockConfiguration: S3Handler = async (c) => {
  const b = ownBucket(c);
  const doc = parseBody(await readSmallBody(c.req), 'ObjectLockConfiguration');
  if (childText(doc, 'ObjectLockEnabled') !== 'Enabled') throw malformedXml();
  if (!b.objectLock && b.versioning !== 'Enabled') {
    throw new AwsError(
      'InvalidBucketState',
      "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration",
      409,
    );
  }
  const retention = child(doc, 'Rule') && child(child(doc, 'Rule')!, 'DefaultRetention');
  let lockDefault: BucketRecord['lockDefault'];
  if (retention) {
    const days = childText(retention, 'Days');
    const years = childText(retention, 'Years');
    if (!!days === !!years) throw malformedXml();
    const n = Number(days ?? years);
    if (!Number.isInteger(n) || n <= 0)
      throw new AwsError(
        'InvalidArgument',
        'Default retention period must be a positive integer value.',
        400,
      );
    lockDefault = { mode: mode(childText(retention, 'Mode')), ...(days ? { days: n } : { years: n }) };
  }
  c.records.buckets.put(b.name, { ...b, objectLock: true, versioning: 'Enabled', lockDefault });
  sendEmpty(c.res, 200);
};

export const getObjectLockConfiguration: S3Handler = (c) => {
  const b = ownBucket(c);
  if (!b.objectLock) {
    throw new AwsError(
      'ObjectLockConfigurationNotFoundError',
      'Object Lock configuration does not exist for this bucket',
      404,
      { BucketName: b.name },
    );
  }
  const d = b.lockDefault;
  sendXml(c.res, 'ObjectLockConfiguration', {
    ObjectLockEnabled: 'Enabled',
    Rule: d ? { DefaultRetention: { Mode: d.mode, Days: d.days, Years: d.years } } : undefined,
  });
};

/**
 * Retention may be extended freely; shortening or removing GOVERNANCE needs the bypass header, and COMPLIANCE
 * can be neither shortened, removed nor turned into GOVERNANCE while it lasts.
 */
function checkRetentionChange(c: S3Call, v: VersionRecord, next: VersionRecord['retention']): void {
  const cur = activeRetention(v, c.now);
  if (!cur) return;
  const shorter = !next || Date.parse(next.until) < Date.parse(cur.until);
  if (cur.mode === 'COMPLIANCE' && (shorter || next?.mode !== 'COMPLIANCE')) throw accessDenied();
  if (cur.mode === 'GOVERNANCE' && shorter && !bypass(c)) throw accessDenied();
}

function saveVersion(
  c: S3Call,
  b: BucketRecord,
  v: VersionRecord,
  change: Partial<VersionRecord>,
): VersionRecord {
  const o = c.records.object(b.name, c.key);
  if (!o) throw malformedXml();
  const next = { ...v, ...change };
  c.records.saveObject({ ...o, versions: o.versions.map((x) => (x.versionId === v.versionId ? next : x)) });
  return next;
}

export const putObjectRetention: S3Handler = async (c) => {
  const b = lockedBucket(c);
  const { v } = selectVersion(c, b);
  const doc = parseBody(await readSmallBody(c.req), 'Retention');
  const m = childText(doc, 'Mode');
  const until = childText(doc, 'RetainUntilDate');
  const next = m && until ? { mode: checkedMode(m), until: futureDate(c, until) } : undefined;
  if (!!m !== !!until) throw malformedXml();
  checkRetentionChange(c, v, next);
  saveVersion(c, b, v, { retention: next });
  sendEmpty(c.res, 200, versionHeaders(b, v));
};

export const getObjectRetention: S3Handler = (c) => {
  const b = lockedBucket(c);
  const { v } = selectVersion(c, b);
  if (!v.retention) throw noLockConfiguration();
  sendXml(c.res, 'Retention', { Mode: v.retention.mode, RetainUntilDate: v.retention.until });
};

export const putObjectLegalHold: S3Handler = async (c) => {
  const b = lockedBucket(c);
  const { v } = selectVersion(c, b);
  const status = childText(parseBody(await readSmallBody(c.req), 'LegalHold'), 'Status');
  if (status !== 'ON' && status !== 'OFF') throw malformedXml();
  saveVersion(c, b, v, { legalHold: status });
  sendEmpty(c.res, 200, versionHeaders(b, v));
};

export const getObjectLegalHold: S3Handler = (c) => {
  const b = lockedBucket(c);
  const { v } = selectVersion(c, b);
  if (!v.legalHold) throw noLockConfiguration();
  sendXml(c.res, 'LegalHold', { Status: v.legalHold });
};

function noLockConfiguration(): AwsError {
  return new AwsError(
    'NoSuchObjectLockConfiguration',
    'The specified object does not have a ObjectLock configuration',
    404,
  );
}
