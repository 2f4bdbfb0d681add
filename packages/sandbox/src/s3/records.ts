/**
 * S3's records in the state store (plain JSON, replaced whole). Object bytes live in files under the data folder
 * (see storage.ts); a version names its files as segments: one for a PUT, one per part for a multipart upload, so
 * that CompleteMultipartUpload moves no bytes.
 */

export type LockMode = 'GOVERNANCE' | 'COMPLIANCE';

export interface PublicAccessBlock {
  BlockPublicAcls: boolean;
  IgnorePublicAcls: boolean;
  BlockPublicPolicy: boolean;
  RestrictPublicBuckets: boolean;
}

export interface BucketRecord {
  name: string;
  ownerId: string;
  region: string;
  /** Set when the bucket was created with the legacy constraint EU (region eu-west-1): GetBucketLocation says EU. */
  locationConstraint?: 'EU';
  created: string; // ISO
  /** Absent until versioning is first configured: responses then carry no x-amz-version-id. */
  versioning?: 'Enabled' | 'Suspended';
  objectLock?: boolean;
  lockDefault?: { mode: LockMode; days?: number; years?: number };
  /** Stored as the client sent it, answered back as is. */
  lifecycle?: string;
  policy?: string;
  /** New buckets block public access (AWS's default since April 2023); absent after DeletePublicAccessBlock. */
  publicAccessBlock?: PublicAccessBlock;
}

export interface Segment {
  file: string;
  size: number;
}

export interface Checksum {
  algorithm: string; // CRC32, CRC32C, SHA1, SHA256
  value: string; // base64, with "-N" for a composite multipart checksum
  type: 'FULL_OBJECT' | 'COMPOSITE';
}

export interface VersionRecord {
  versionId: string; // "null" for versions written while versioning was off or suspended
  deleteMarker?: true;
  lastModified: string; // ISO
  size: number;
  etag: string; // without quotes
  segments: Segment[];
  /** Content-Type, Content-Encoding, Cache-Control, ... as sent (lower-case names). */
  headers: Record<string, string>;
  metadata: Record<string, string>;
  storageClass: string;
  checksum?: Checksum;
  /** Parts count of a multipart object (GetObject ?partNumber, x-amz-mp-parts-count). */
  parts?: number;
  retention?: { mode: LockMode; until: string };
  legalHold?: 'ON' | 'OFF';
  ownerId: string;
}

export interface ObjectRecord {
  bucket: string;
  key: string;
  /** Newest first. */
  versions: VersionRecord[];
}

export interface PartRecord {
  partNumber: number;
  etag: string;
  size: number;
  file: string;
  lastModified: string;
  checksum?: string; // base64, of the upload's algorithm
}

export interface UploadRecord {
  uploadId: string;
  bucket: string;
  key: string;
  initiated: string;
  ownerId: string;
  headers: Record<string, string>;
  metadata: Record<string, string>;
  storageClass: string;
  checksumAlgorithm?: string;
  checksumType?: 'FULL_OBJECT' | 'COMPOSITE';
  retention?: { mode: LockMode; until: string };
  legalHold?: 'ON' | 'OFF';
  parts: Record<string, PartRecord>;
}

export const TABLES = {
  buckets: 's3.buckets',
  objects: 's3.objects',
  uploads: 's3.uploads',
};
