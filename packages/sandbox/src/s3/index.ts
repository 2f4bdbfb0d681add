/** The sandbox's S3: REST/XML API over files on disk (see service.ts). */

export type { ObjectRecord, VersionRecord } from './records.js';
export { hostBucket } from './router.js';
export { createS3Service, objectStoreOf, type S3Service } from './service.js';
export type { ObjectFiles } from './storage.js';
export type { S3Records } from './store.js';
