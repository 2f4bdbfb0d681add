// The EBS direct API client of bench/sandbox-ebs.mjs and its reader threads: the AWS SDK v3 EBSClient with a
// keep-alive agent and no retries; reads collect body chunks by hand and verify nothing.
import { Agent } from 'node:http';
import { EBSClient, GetSnapshotBlockCommand } from '@aws-sdk/client-ebs';
import { NodeHttpHandler } from '@smithy/node-http-handler';

export function clientFor(endpoint, account) {
  return new EBSClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: account.accessKeyId, secretAccessKey: account.secretAccessKey },
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({ httpAgent: new Agent({ keepAlive: true, maxSockets: 64 }) }),
  });
}

/** Runs `work(i)` for i in [0, n) with `concurrency` in flight. */
export async function inFlight(n, concurrency, work) {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) await work(next++);
    }),
  );
}

/** GetSnapshotBlock of every block listed, `concurrency` in flight; each body must be `blockSize` bytes. */
export async function readBlocks(client, snapshotId, blocks, concurrency, blockSize) {
  await inFlight(blocks.length, concurrency, async (i) => {
    const b = blocks[i];
    const r = await client.send(
      new GetSnapshotBlockCommand({
        SnapshotId: snapshotId,
        BlockIndex: b.BlockIndex,
        BlockToken: b.BlockToken,
      }),
    );
    let n = 0;
    const chunks = [];
    for await (const chunk of r.BlockData) {
      chunks.push(chunk);
      n += chunk.length;
    }
    if (n !== blockSize) throw new Error(`block ${b.BlockIndex}: ${n} bytes`);
  });
}
