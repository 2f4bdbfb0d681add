import zstd from 'zstd-napi';
import binding from 'zstd-napi/binding.js';

/** zstd level 1: on disk data it is ~1.7x faster than level 3 for ~9% larger output (see docs/benchmarks.md). */
export const ZSTD_LEVEL = 1;

/**
 * One compression context per thread, reused across calls: a fresh context per 512 KiB block costs ~35% of
 * zstd's speed on incompressible data. Chunks are compressed into a scratch buffer and decompressed into the
 * caller's buffer (zstd-napi's low-level binding): a fresh output buffer per block, and the copy that trims it,
 * cost a quarter of compress-and-seal's CPU time.
 */
export class Codec {
  private readonly cctx = new binding.CCtx();
  private readonly dctx = new binding.DCtx();
  private readonly decompressor = new zstd.Decompressor();
  private scratch = Buffer.alloc(0);

  constructor(level = ZSTD_LEVEL) {
    this.cctx.setParameter(binding.CParameter.compressionLevel, level);
  }

  /** The compressed bytes in this codec's scratch buffer: valid until its next compression. */
  compressTransient(data: Uint8Array): Buffer {
    const bound = binding.compressBound(data.length);
    if (this.scratch.length < bound) this.scratch = Buffer.allocUnsafeSlow(bound);
    return this.scratch.subarray(0, this.cctx.compress2(this.scratch, data));
  }

  compress(data: Uint8Array): Buffer {
    return Buffer.from(this.compressTransient(data));
  }

  decompress(data: Uint8Array): Buffer {
    return this.decompressor.decompress(data);
  }

  /** Decompresses into target (large enough for the content); returns the number of bytes written. */
  decompressInto(target: Uint8Array, data: Uint8Array): number {
    return this.dctx.decompress(target, data);
  }
}
