import { AwsError } from '../core/errors.js';
import { type Call, iso, tables } from './call.js';
import { snapshotStatus } from './lifecycle.js';

/**
 * AWS's snapshot quotas, enforced as EC2 enforces them (values: ctx.settings.ec2Quotas, adjustable through the
 * admin API), and the eventual consistency of DescribeSnapshots (ctx.settings.consistency).
 *
 * Error codes from the EC2 API Reference, "Error codes" (errors-overview): `SnapshotLimitExceeded` ("You've
 * reached the limit on the number of Amazon EBS snapshots that you can create") and `ResourceLimitExceeded` ("You
 * have exceeded an Amazon EC2 resource limit. For example, you might have too many snapshot copies in progress").
 */

/**
 * "Snapshots per Region" (Service Quotas, default 100,000): every snapshot the account owns in the region counts,
 * whatever its state. A call that would create `adding` snapshots past it creates none. AWS's exact message was not
 * found; the code is the documented one.
 */
export function checkSnapshotQuota(c: Call, adding: number): void {
  const limit = c.ctx.settings.ec2Quotas.snapshotsPerRegion;
  let owned = 0;
  for (const s of tables(c).snapshots.values())
    if (s.ownerId === c.accountId && s.region === c.region) owned++;
  if (owned + adding > limit) {
    throw new AwsError(
      'SnapshotLimitExceeded',
      `The account has reached its quota of ${limit} snapshots in this Region.`,
    );
  }
}

/**
 * "Each account can have up to twenty concurrent snapshot copy requests to a single destination Region" (EBS User
 * Guide, "Copy an Amazon EBS snapshot": "If you exceed this quota, you receive a ResourceLimitExceeded error").
 * A copy counts while it is pending in the destination (the caller's region). The message is AWS's, as reported in
 * aws-samples/copy-encrypted-ami issue 3 (when the limit was 5).
 */
export function checkCopyQuota(c: Call): void {
  const limit = c.ctx.settings.ec2Quotas.concurrentSnapshotCopies;
  const t = tables(c);
  let pending = 0;
  for (const x of t.copies.values()) {
    if (x.ownerId !== c.accountId || x.region !== c.region) continue;
    const s = t.snapshots.get(x.snapshotId);
    if (s && snapshotStatus(s, c.now).state === 'pending') pending++;
  }
  if (pending >= limit) {
    throw new AwsError(
      'ResourceLimitExceeded',
      `Too many snapshot copies in progress. The limit is ${limit} for this destination region.`,
    );
  }
}

/** When a snapshot created now becomes visible to DescribeSnapshots; undefined when at once. */
export function describableAt(c: Call): string | undefined {
  const lag = c.ctx.settings.consistency.describeLagSeconds;
  return lag > 0 ? iso(c.now + lag * 1000) : undefined;
}

/** Whether DescribeSnapshots returns the snapshot yet (eventual consistency). */
export function describable(s: { describableAt?: string }, now: number): boolean {
  return !s.describableAt || now >= Date.parse(s.describableAt);
}
