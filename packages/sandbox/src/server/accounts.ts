import type { Account, Principal, RegionInfo } from '../core/model.js';

/**
 * The sandbox's test accounts. Their key pairs are published test fixtures, not secrets: they only open this
 * sandbox, and the sandbox prints them at start.
 */
export const TEST_ACCOUNTS: readonly Account[] = [
  {
    accountId: '111111111111',
    name: 'production',
    accessKeyId: 'AKIASANDBOX111111111',
    secretAccessKey: 'sandbox/production/0000000000000000000000',
  },
  {
    accountId: '222222222222',
    name: 'backup',
    accessKeyId: 'AKIASANDBOX222222222',
    secretAccessKey: 'sandbox/backup/00000000000000000000000000',
  },
  {
    accountId: '333333333333',
    name: 'dr',
    accessKeyId: 'AKIASANDBOX333333333',
    secretAccessKey: 'sandbox/dr/000000000000000000000000000000',
  },
];

const zones = (region: string) => ['a', 'b', 'c'].map((z) => `${region}${z}`);

export const TEST_REGIONS: readonly RegionInfo[] = [
  { name: 'us-east-1', zones: zones('us-east-1') },
  { name: 'eu-west-1', zones: zones('eu-west-1') },
  { name: 'us-west-2', zones: zones('us-west-2') },
];

/** The caller an account's own key pair stands for: the root user, allowed everything (unless restricted). */
export function rootPrincipal(a: Account): Principal {
  return {
    accountId: a.accountId,
    accessKeyId: a.accessKeyId,
    arn: `arn:aws:iam::${a.accountId}:root`,
    kind: 'root',
    userId: a.accountId,
  };
}
