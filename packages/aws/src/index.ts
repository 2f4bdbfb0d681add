export {
  type AccountAccess,
  AwsAccounts,
  type AwsAccountsOptions,
  AwsCallError,
  type AwsKeys,
  type CallerIdentity,
  type InstanceView,
  isAwsCallError,
  type SimulationDecision,
  type VolumeView,
} from './accounts.js';
export {
  type AwsCallCounter,
  type AwsTags,
  Ec2Snapshots,
  type Ec2SnapshotsOptions,
  type KeyView,
  type ProtectedInstance,
  type SnapshotView,
  tagRecord,
} from './ec2-snapshots.js';
export {
  type BlockDeviceConfiguration,
  type InstanceConfiguration,
  instanceConfiguration,
  type NetworkInterfaceConfiguration,
} from './instance-config.js';
export { addKmsSlot, kmsUnlocker } from './kms.js';
export { kmsDecryptSecret, kmsEncryptSecret } from './kms-secret.js';
export { parseS3Location, type S3Location } from './s3-location.js';
export { S3Store, type S3StoreOptions } from './s3-store.js';
