/**
 * The narrow interface between the repository and where its objects live (a local folder, an S3 bucket).
 * Objects are write-once: put refuses to replace an existing object, so that S3 Object Lock can later protect
 * every object; deletion is a separate, explicit step. Every store must pass the conformance suite in
 * ./conformance.ts.
 */
export interface ObjectInfo {
  key: string;
  size: number;
  /** When the object was written (ms since the epoch), where the store knows it. */
  lastModified?: number;
  /** The object may not be deleted before this time (S3 Object Lock retention), where the store has it. */
  retainUntil?: number;
}

export interface Store {
  /** Human-readable location, e.g. "/backups/repo" or "s3:bucket/prefix". */
  readonly location: string;
  /**
   * Stores a new object atomically: readers see either nothing or the whole object. Throws OBJECT_EXISTS when
   * the key exists, STORE_FULL when the store has no space (nothing is left behind), STORE_IO otherwise.
   */
  put(key: string, data: Uint8Array | readonly Uint8Array[]): Promise<void>;
  /** Whole object; NOT_FOUND when missing. */
  get(key: string): Promise<Buffer>;
  /**
   * length bytes from offset; NOT_FOUND when missing, REPO_CORRUPT when the object is shorter than asked. With
   * `into` (at least length bytes) the store may read into it and return a view of it, saving an allocation per
   * read (restore recycles its read buffers); callers use whatever buffer is returned.
   */
  getRange(key: string, offset: number, length: number, into?: Uint8Array): Promise<Buffer>;
  /** Size of the object, or undefined when it does not exist. */
  stat(key: string): Promise<ObjectInfo | undefined>;
  /** Every object whose key starts with prefix, in no particular order. */
  list(prefix: string): AsyncIterable<ObjectInfo>;
  /** Removes an object; removing a missing object is not an error. */
  delete(key: string): Promise<void>;
  close?(): Promise<void>;
}

export function isValidKey(key: string): boolean {
  return (
    key.length > 0 &&
    key.length <= 512 &&
    !key.startsWith('/') &&
    !key.split('/').some((part) => part === '' || part === '.' || part === '..') &&
    /^[A-Za-z0-9._/-]+$/.test(key)
  );
}
