/** Messages between the main thread and the data workers (see worker.ts). */
export interface InitMessage {
  secret: Uint8Array;
  repositoryId: string;
}

/** Read blocks of an image by fd, skip all-zero ones, hash the rest; the worker holds the bytes until `seal`. */
export interface HashRequest {
  op: 'hash';
  job: number;
  fd: number;
  sizeBytes: number;
  blocks: number[];
}
export interface HashResult {
  job: number;
  /** Per requested block: its chunk id, or null for an all-zero block. */
  ids: Array<Uint8Array | null>;
}

/** Compress and encrypt some of the held blocks (the others are dropped: they deduplicated). */
export interface SealRequest {
  op: 'seal';
  job: number;
  blocks: number[];
}
export interface SealResult {
  job: number;
  /** One sealed blob per requested block, in order, each in parts (nonce, ciphertext..., tag). */
  sealed: Uint8Array[][];
}

/** Decrypt blobs out of a run of pack bytes; write them at their block offsets into fd, or just verify them. */
export interface OpenRequest {
  op: 'open';
  job: number;
  run: Uint8Array;
  items: Array<{ id: Uint8Array; offset: number; length: number; rawLength: number; block: number }>;
  /** Target fd and disk size, or -1 to verify only. */
  fd: number;
  /** The target opened with O_DIRECT for whole blocks, or -1. */
  directFd?: number;
  sizeBytes: number;
  verifyId: boolean;
}
export interface OpenResult {
  job: number;
  /** Per item: null when fine, else what is wrong. */
  errors: Array<string | null>;
  /** The run's bytes, handed back (transferred) after a restore's write, for the next read. */
  run?: Uint8Array;
}

export type WorkerRequest = HashRequest | SealRequest | OpenRequest;
export type WorkerReply = (HashResult | SealResult | OpenResult) & { error?: string };
