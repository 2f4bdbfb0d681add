// The EBS direct API client of bench/sandbox-ebs.mjs and its reader threads: the AWS SDK v3 EBSClient with a
// keep-alive agent and no retries; reads collect body chunks by hand and verify nothing.
import { Agent } from 'node:http';
import { EBSClient, GetSnapshotBlockCommand } from '@aws-sdk/client-ebs';
import { NodeHttpHandler } from '@smithy/node-http-handler';

// The agent has no idle `timeout`, as the SDK's own has none: it reuses a socket however long it was idle, and
// Node's Agent ignores a server's `Keep-Alive: timeout=N` hint unless it has a timeout of its own to shorten. So
// every server the benchmark drives keeps idle connections open (keepAliveTimeout 0): one that closes them races
// the next phase's requests (ECONNRESET "socket hang up", issue 14).
export function clientFor(endpoint, account) {
  return new EBSClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: account.accessKeyId, secretAccessKey: account.secretAccessKey },
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({ httpAgent: new Agent({ keepAlive: true, maxSockets: 64 }) }),
  });
}

/** One line for a failed request: "TimeoutError: socket hang up (ECONNRESET, HTTP -, 1 attempt)". */
export function describeError(e) {
  const facts = [
    e?.code,
    e?.$metadata?.httpStatusCode && `HTTP ${e.$metadata.httpStatusCode}`,
    e?.$metadata?.attempts && `${e.$metadata.attempts} attempt${e.$metadata.attempts === 1 ? '' : 's'}`,
  ].filter(Boolean);
  return `${e?.name ?? 'Error'}: ${e?.message ?? String(e)}${facts.length ? ` (${facts.join(', ')})` : ''}`;
}

/** Requests of one phase that failed: how many, of how many, and the first errors (described). */
export class RequestsFailed extends Error {
  constructor(failed, total, errors) {
    super(`${failed} of ${total} requests failed; first: ${errors.join('; ')}`);
    this.name = 'RequestsFailed';
    this.failed = failed;
    this.total = total;
    this.errors = errors;
  }
}

/**
 * Runs `work(i)` for i in [0, n) with `concurrency` in flight. A request that fails is counted and the phase goes
 * on (its figures are then void); at the end RequestsFailed says how many failed and why.
 */
export async function inFlight(n, concurrency, work) {
  let next = 0;
  let failed = 0;
  const errors = [];
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        try {
          await work(i);
        } catch (e) {
          failed++;
          if (errors.length < 3) errors.push(`#${i} ${describeError(e)}`);
        }
      }
    }),
  );
  if (failed) throw new RequestsFailed(failed, n, errors);
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
