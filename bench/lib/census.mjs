// Block census of the benchmark images, in 512 KiB blocks (the EBS direct API block and Lifeboat's chunk).
// usage: node census.mjs FULL.img INC.img CHANGED-BLOCKS.txt   -> JSON on stdout
// Counts all-zero blocks and distinct non-zero blocks of the full image (what fixed 512 KiB chunks can store at
// best), and checks the change set: the listed blocks are the only ones that differ between the two images.
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';

const BS = 512 * 1024;
const [fullPath, incPath, listPath] = process.argv.slice(2);
const listed = new Set(
  readFileSync(listPath, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map(Number),
);
const full = openSync(fullPath, 'r');
const inc = openSync(incPath, 'r');
const size = fstatSync(full).size;
const a = Buffer.allocUnsafe(BS);
const b = Buffer.allocUnsafe(BS);
const zero = Buffer.alloc(BS);
const distinct = new Set();
let zeroBlocks = 0;
let differing = 0;
let differingBytes = 0;
let unlistedDiffering = 0;
let listedWereZero = 0;
for (let k = 0; k * BS < size; k++) {
  const n = readSync(full, a, 0, BS, k * BS);
  readSync(inc, b, 0, BS, k * BS);
  const blockA = a.subarray(0, n);
  if (blockA.equals(zero.subarray(0, n))) {
    zeroBlocks++;
    if (listed.has(k)) listedWereZero++;
  } else {
    distinct.add(createHash('sha256').update(blockA).digest('base64'));
  }
  if (!blockA.equals(b.subarray(0, n))) {
    differing++;
    for (let i = 0; i < n; i++) if (a[i] !== b[i]) differingBytes++;
    if (!listed.has(k)) unlistedDiffering++;
  }
}
closeSync(full);
closeSync(inc);
if (unlistedDiffering > 0) {
  console.error(`census: ${unlistedDiffering} blocks differ between the images but are not in ${listPath}`);
  process.exit(1);
}
const blocks = Math.ceil(size / BS);
console.log(
  JSON.stringify(
    {
      blocks,
      zeroBlocks,
      nonZeroBlocks: blocks - zeroBlocks,
      distinctNonZeroBlocks: distinct.size,
      duplicateNonZeroBlocks: blocks - zeroBlocks - distinct.size,
      changedBlocksListed: listed.size,
      changedBlocksDiffering: differing,
      changedBlocksThatWereZero: listedWereZero,
      changedBytes: differingBytes,
    },
    null,
    2,
  ),
);
