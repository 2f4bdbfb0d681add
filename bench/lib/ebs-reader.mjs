// A worker thread of bench/sandbox-ebs.mjs --client-threads: its own SDK client reads the blocks it is sent, with
// `concurrency` requests in flight, as the main client does (lib/ebs-client.mjs).
import { parentPort, workerData } from 'node:worker_threads';
import { clientFor, readBlocks } from './ebs-client.mjs';

const { endpoint, account, concurrency, blockSize } = workerData;
const client = clientFor(endpoint, account);

parentPort.on('message', ({ snapshotId, blocks }) => {
  readBlocks(client, snapshotId, blocks, concurrency, blockSize).then(
    () => parentPort.postMessage({ ok: true }),
    (e) => parentPort.postMessage({ ok: false, error: String(e?.stack ?? e) }),
  );
});
