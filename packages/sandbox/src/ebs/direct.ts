import { BLOCK_SIZE } from '../core/blocks.js';

/**
 * Memory aligned for O_DIRECT. Block data files are written and read with O_DIRECT: on a VM whose freed memory
 * goes back to the host (Firecracker), buffered I/O pays a page fault per fresh page-cache page, some 2 CPU-s
 * per GiB, and direct I/O about nothing. O_DIRECT wants the buffer's address, the file offset and the length
 * aligned (4096 covers every device); Node Buffers are not (EINVAL), but a WebAssembly.Memory starts on a page
 * boundary, so 512 KiB slices of one are aligned. Node's TypeScript lib has no WebAssembly types: the least of
 * its shape is declared here.
 */
declare const WebAssembly: { Memory: new (d: { initial: number }) => { buffer: ArrayBuffer } };

export const ALIGNMENT = 4096;
const WASM_PAGE = 65536;
/** Blocks carved from each WebAssembly.Memory: few memories (each is a mapping of its own), little waste. */
const GROUP = 16;

/** The ArrayBuffers of aligned memory: a Buffer over one of them, at an aligned offset, can go direct. */
const alignedMemory = new WeakSet<ArrayBuffer>();
/** Blocks of the last group not handed out yet. */
let spare: Buffer[] = [];

/** Zeroed aligned memory of `bytes` (rounded up to 64 KiB pages), e.g. several blocks read at once. */
export function alignedBuffer(bytes: number): Buffer {
  const memory = new WebAssembly.Memory({ initial: Math.max(1, Math.ceil(bytes / WASM_PAGE)) }).buffer;
  alignedMemory.add(memory);
  return Buffer.from(memory, 0, bytes);
}

/**
 * One aligned 512 KiB block buffer (zeroed when fresh). Callers pool them: a group's memory is freed only once
 * none of its blocks is referenced.
 */
export function alignedBlock(): Buffer {
  let block = spare.pop();
  if (!block) {
    const group = alignedBuffer(GROUP * BLOCK_SIZE);
    spare = [];
    for (let i = GROUP - 1; i > 0; i--) spare.push(group.subarray(i * BLOCK_SIZE, (i + 1) * BLOCK_SIZE));
    block = group.subarray(0, BLOCK_SIZE);
  }
  return block;
}

/** Whether O_DIRECT can take `buf` as it is: aligned memory, aligned start and length. */
export function isAligned(buf: Uint8Array): boolean {
  return (
    alignedMemory.has(buf.buffer as ArrayBuffer) &&
    buf.byteOffset % ALIGNMENT === 0 &&
    buf.length % ALIGNMENT === 0
  );
}
