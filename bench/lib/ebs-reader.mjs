// A worker thread of bench/sandbox-ebs.mjs --client-threads: its own SDK client reads the blocks it is sent, with
// `concurrency` requests in flight, collecting body chunks by hand and verifying nothing (as the main client).
import { Agent } from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';
import { EBSClient, GetSnapshotBlockCommand } from '@aws-sdk/client-ebs';
import { NodeHttpHandler } from '@smithy/node-http-handler';

const { endpoint, account, concurrency, blockSize } = workerData;
const client = new EBSClient({
  endpoint,
  region: 'us-east-1',
  credentials: { accessKeyId: account.accessKeyId, secretAccessKey: account.secretAccessKey },
  maxAttempts: 1,
  requestHandler: new NodeHttpHandler({ httpAgent: new Agent({ keepAlive: true, maxSockets: 64 }) }),
});

async function readAll(snapshotId, blocks) {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < blocks.length) {
        const b = blocks[next++];
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
      }
    }),
  );
}

parentPort.on('message', ({ snapshotId, blocks }) => {
  readAll(snapshotId, blocks).then(
    () => parentPort.postMessage({ ok: true }),
    (e) => parentPort.postMessage({ ok: false, error: String(e?.stack ?? e) }),
  );
});
