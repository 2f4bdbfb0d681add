// A worker thread of bench/sandbox-ebs.mjs --client-threads: its own SDK client reads the blocks it is sent, with
// `concurrency` requests in flight, as the main client does (lib/ebs-client.mjs). Failed requests are counted and
// reported back, not thrown.
import { parentPort, workerData } from 'node:worker_threads';
import { clientFor, describeError, readBlocks } from './ebs-client.mjs';

const { endpoint, account, concurrency, blockSize } = workerData;
const client = clientFor(endpoint, account);

parentPort.on('message', ({ snapshotId, blocks }) => {
  readBlocks(client, snapshotId, blocks, concurrency, blockSize).then(
    () => parentPort.postMessage({ ok: true }),
    (e) =>
      parentPort.postMessage({
        ok: false,
        failed: e?.failed ?? blocks.length,
        total: e?.total ?? blocks.length,
        errors: e?.errors ?? [describeError(e)],
      }),
  );
});
