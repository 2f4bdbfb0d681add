/**
 * Keeps freed heap memory for reuse instead of handing it back to the kernel after each GC: one untouched 16 MiB
 * block, freed by the next GC, raises glibc's dynamic mmap and trim thresholds (mallopt(3), "dynamic mmap
 * threshold"; other allocators ignore it). The blocks a restore decrypts and writes then stop landing on fresh
 * pages: on the 4 GiB bench image 62-66 thousand minor faults instead of 159-229 thousand, 0.9-1.2 CPU-s in the
 * kernel instead of 1.2-4.5, peak RSS within 20 MiB. Backups do not call it: they peaked 25-50 MiB higher with it,
 * which a backup into 2 million chunks cannot afford under its 300 MiB bound (docs/benchmarks-memory.md). The
 * sandbox does the same at start (its server/malloc.ts).
 */
export function keepFreedMemory(): void {
  Buffer.allocUnsafeSlow(16 * 1024 * 1024);
}
