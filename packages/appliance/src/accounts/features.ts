/**
 * The IAM actions each feature needs in a protected account: one list per feature, used by `account check`
 * (SimulatePrincipalPolicy) and published as ready IAM policies in docs/iam/<feature>.json (a test holds the
 * files to these lists; `LIFEBOAT_WRITE_IAM_DOCS=1` rewrites them).
 */
export const FEATURES = ['inventory', 'snapshots', 'replication', 'image-backup', 'restore'] as const;
export type Feature = (typeof FEATURES)[number];

export const FEATURE_ACTIONS: Record<Feature, readonly string[]> = {
  // Registration, `account check` and the inventory: every account needs these.
  inventory: [
    'ec2:DescribeInstances',
    'ec2:DescribeRegions',
    'ec2:DescribeVolumes',
    'iam:SimulatePrincipalPolicy',
  ],
  // Cloud-native snapshots: all volumes of an instance at one instant, tagged at creation; retention deletes.
  snapshots: [
    'ec2:CreateSnapshot',
    'ec2:CreateSnapshots',
    'ec2:CreateTags',
    'ec2:DeleteSnapshot',
    'ec2:DescribeInstances',
    'ec2:DescribeSnapshots',
    'ec2:DescribeVolumes',
  ],
  // Copies to another region or account, re-encrypted with another KMS key.
  replication: [
    'ec2:CopySnapshot',
    'ec2:CreateTags',
    'ec2:DeleteSnapshot',
    'ec2:DescribeSnapshots',
    'ec2:ModifySnapshotAttribute',
    'kms:CreateGrant',
    'kms:Decrypt',
    'kms:DescribeKey',
    'kms:GenerateDataKeyWithoutPlaintext',
    'kms:ReEncryptFrom',
    'kms:ReEncryptTo',
  ],
  // Image-level backup: the data mover reads snapshots with the EBS direct APIs.
  'image-backup': [
    'ebs:GetSnapshotBlock',
    'ebs:ListChangedBlocks',
    'ebs:ListSnapshotBlocks',
    'ec2:CreateSnapshots',
    'ec2:CreateTags',
    'ec2:DeleteSnapshot',
    'ec2:DescribeSnapshots',
    'kms:Decrypt',
    'kms:DescribeKey',
  ],
  // Restore: instances and volumes from snapshots or from the repository (EBS direct writes).
  restore: [
    'ebs:CompleteSnapshot',
    'ebs:PutSnapshotBlock',
    'ebs:StartSnapshot',
    'ec2:AttachVolume',
    'ec2:CreateTags',
    'ec2:CreateVolume',
    'ec2:DescribeImages',
    'ec2:DescribeInstances',
    'ec2:DescribeSecurityGroups',
    'ec2:DescribeSnapshots',
    'ec2:DescribeSubnets',
    'ec2:DescribeVolumes',
    'ec2:DetachVolume',
    'ec2:RegisterImage',
    'ec2:RunInstances',
    'ec2:StartInstances',
    'ec2:StopInstances',
    'iam:PassRole',
    'kms:CreateGrant',
    'kms:Decrypt',
    'kms:DescribeKey',
    'kms:GenerateDataKeyWithoutPlaintext',
  ],
};

/** Every action of every feature, once, sorted. */
export function allFeatureActions(): string[] {
  return [...new Set(Object.values(FEATURE_ACTIONS).flat())].sort();
}

/** The ready IAM policy of a feature, as docs/iam/<feature>.json holds it. */
export function featurePolicy(feature: Feature): Record<string, unknown> {
  const sid = `Lifeboat${feature
    .split('-')
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join('')}`;
  return {
    Version: '2012-10-17',
    Statement: [{ Sid: sid, Effect: 'Allow', Action: [...FEATURE_ACTIONS[feature]].sort(), Resource: '*' }],
  };
}
