/**
 * Keeps freed heap memory for reuse instead of handing it back to the kernel after each GC.
 *
 * Node's HTTP parser copies every body chunk (up to 64 KiB) into a new malloc'd Buffer. Once a GC frees them, glibc
 * trims the top of the heap whenever more than M_TRIM_THRESHOLD (128 KiB by default) is free there, so the next
 * chunks land on fresh pages: on a VM whose freed memory goes back to the host that is a page fault per 4 KiB,
 * 200-400 MiB of fresh pages and ~10 % more CPU per GB received. glibc raises both thresholds by itself when a
 * block it had to mmap is freed (mallopt(3), "dynamic mmap threshold": M_MMAP_THRESHOLD becomes the block's
 * size and M_TRIM_THRESHOLD twice that), which is why the cost came and went between runs. Allocating and
 * dropping one such block at start makes it certain: up to 32 MiB free at the heap top is kept. The block is
 * never touched, so it costs no memory; other allocators (musl) ignore it.
 */
export function keepFreedMemory(): void {
  // 16 MiB: above the default 128 KiB threshold and, with malloc's header, under its 32 MiB ceiling
  // (DEFAULT_MMAP_THRESHOLD_MAX on 64-bit), past which glibc does not adjust.
  Buffer.allocUnsafeSlow(16 * 1024 * 1024); // freed by the next GC
}
