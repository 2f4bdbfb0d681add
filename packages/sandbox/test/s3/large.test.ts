import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../src/index.js';
import { bytes, s3, sandbox } from './helpers.js';

let sb: RunningSandbox;
beforeAll(async () => {
  sb = await sandbox();
  await s3(sb).send(new CreateBucketCommand({ Bucket: 'large' }));
});
afterAll(() => sb?.close());

const MiB = 1024 * 1024;
const SIZE = 1024 * MiB + 4097; // over 1 GiB, not a multiple of any buffer size

/** The largest RSS seen while `work` runs (sampled every 50 ms). */
async function peakRss<T>(work: () => Promise<T>): Promise<{ result: T; peak: number }> {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 50);
  try {
    return { result: await work(), peak };
  } finally {
    clearInterval(timer);
  }
}

describe('S3 large objects', () => {
  it('streams a 1+ GiB object up and down with bounded memory', { timeout: 300_000 }, async () => {
    const c = s3(sb);
    const block = bytes(MiB, 11);
    const sent = createHash('md5');
    function* source() {
      for (let off = 0; off < SIZE; off += MiB) {
        const part = block.subarray(0, Math.min(MiB, SIZE - off));
        sent.update(part);
        yield part;
      }
    }
    const before = process.memoryUsage.rss();
    const up = await peakRss(() =>
      c.send(
        new PutObjectCommand({
          Bucket: 'large',
          Key: 'disk.img',
          Body: Readable.from(source()),
          ContentLength: SIZE,
        }),
      ),
    );
    const md5 = sent.digest('hex');
    expect(up.result.ETag).toBe(`"${md5}"`);
    expect((await c.send(new HeadObjectCommand({ Bucket: 'large', Key: 'disk.img' }))).ContentLength).toBe(
      SIZE,
    );
    const down = await peakRss(async () => {
      const got = await c.send(
        new GetObjectCommand({ Bucket: 'large', Key: 'disk.img', ChecksumMode: 'ENABLED' }),
      );
      const h = createHash('md5');
      let n = 0;
      for await (const chunk of got.Body as AsyncIterable<Buffer>) {
        h.update(chunk);
        n += chunk.length;
      }
      return { n, md5: h.digest('hex') };
    });
    expect(down.result).toEqual({ n: SIZE, md5 });
    // Client and sandbox share this process: both stream, so the peak stays far below the object's size.
    const growth = Math.max(up.peak, down.peak) - before;
    expect(growth).toBeLessThan(256 * MiB);
  });
});
