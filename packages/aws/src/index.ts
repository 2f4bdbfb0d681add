export { addKmsSlot, kmsUnlocker } from './kms.js';
export { parseS3Location, type S3Location } from './s3-location.js';
export { S3Store, type S3StoreOptions } from './s3-store.js';
