/**
 * Block content of volumes and snapshots, in 512 KiB blocks (the EBS direct API block). Volumes are mutable;
 * snapshots are frozen views that share unchanged blocks with earlier snapshots of the same lineage
 * (copy-on-write), so that taking a snapshot costs O(blocks written since the last one) and ListChangedBlocks can
 * answer from the lineage. Ids are the EC2 ids (vol-..., snap-...). Unwritten blocks read as zeros and are not
 * listed. Implemented by the engine in ../ebs/; used by EC2 (volumes, CreateSnapshot(s), CopySnapshot) and by the
 * EBS direct API and the admin API.
 */
export const BLOCK_SIZE = 524288;

export interface BlockRef {
  index: number;
  /** SHA-256 of the block's 524288 bytes (zero-padded at the end of a volume), base64, as x-amz-Checksum. */
  checksum: string;
}

export interface BlockEngine {
  /** A new volume of sizeGiB, empty or with the content of snapshotId (which must exist). */
  createVolume(volumeId: string, sizeGiB: number, fromSnapshotId?: string): void;
  deleteVolume(volumeId: string): void;
  /** Grows a volume; new space reads as zeros. */
  resizeVolume(volumeId: string, sizeGiB: number): void;
  /** Writes bytes at any byte offset (read-modify-write of partial blocks). */
  writeVolume(volumeId: string, offset: number, data: Uint8Array): void;
  readVolume(volumeId: string, offset: number, length: number): Buffer;

  /** Captures the volume's content at this instant; the snapshot continues the volume's lineage. */
  createSnapshotFromVolume(snapshotId: string, volumeId: string): void;
  /** A full or incremental copy; incremental copies stay in the source's lineage (ListChangedBlocks works). */
  copySnapshot(snapshotId: string, sourceSnapshotId: string, incremental: boolean): void;
  /** For EBS direct StartSnapshot: empty, or inheriting the parent's blocks and lineage. */
  startSnapshot(snapshotId: string, sizeGiB: number, parentSnapshotId?: string): void;
  putSnapshotBlock(snapshotId: string, index: number, data: Uint8Array, checksum: string): void;
  deleteSnapshot(snapshotId: string): void;

  /** Written blocks of a snapshot, ascending, from startIndex. */
  listSnapshotBlocks(snapshotId: string, startIndex: number, max: number): BlockRef[];
  /**
   * Blocks whose content differs between two snapshots of one lineage (first may be undefined: every written
   * block of second), ascending. Returns undefined when the snapshots are unrelated (UNRELATED_SNAPSHOTS).
   */
  listChangedBlocks(
    firstSnapshotId: string | undefined,
    secondSnapshotId: string,
    startIndex: number,
    max: number,
  ): Array<{ index: number; first?: BlockRef; second?: BlockRef }> | undefined;
  /** One block's bytes and checksum; zero block (and its checksum) when unwritten. */
  readSnapshotBlock(snapshotId: string, index: number): { data: Buffer; checksum: string };
  lineageOf(snapshotId: string): string | undefined;
}
