import { createHash, createHmac } from 'node:crypto';
import { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../src/index.js';
import { ChunkDecoder } from '../../src/s3/chunked.js';
import { bytes, codeOf, collect, raw, s3, sandbox } from './helpers.js';

let sb: RunningSandbox;
const B = 'chunked';
beforeAll(async () => {
  sb = await sandbox();
  await s3(sb).send(new CreateBucketCommand({ Bucket: B }));
});
afterAll(() => sb?.close());

const EMPTY = createHash('sha256').update('').digest('hex');
const hex = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const crcB64 = (b: Buffer) => {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(crc32(b));
  return out.toString('base64');
};

/** Signs the chunks of a STREAMING-AWS4-HMAC-SHA256-PAYLOAD body (AWS's "Signature Calculations ... in Multiple Chunks"). */
function signedChunks(key: Buffer, seed: string, amzDate: string, scope: string, parts: Buffer[]): Buffer {
  let prev = seed;
  const out: Buffer[] = [];
  for (const data of [...parts, Buffer.alloc(0)]) {
    const toSign = `AWS4-HMAC-SHA256-PAYLOAD\n${amzDate}\n${scope}\n${prev}\n${EMPTY}\n${hex(data)}`;
    prev = createHmac('sha256', key).update(toSign).digest('hex');
    out.push(
      Buffer.from(`${data.length.toString(16)};chunk-signature=${prev}\r\n`),
      data,
      Buffer.from('\r\n'),
    );
  }
  return Buffer.concat(out);
}

describe('aws-chunked bodies', () => {
  it('decodes AWS documentation example signatures', () => {
    // The example of AWS's SigV4 streaming documentation: 65 KiB of 'a' in a 64 KiB and a 1 KiB chunk.
    const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
    const h = (k: Buffer | string, d: string) => createHmac('sha256', k).update(d).digest();
    const key = h(h(h(h(`AWS4${secret}`, '20130524'), 'us-east-1'), 's3'), 'aws4_request');
    const signing = {
      key,
      seedSignature: '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9',
      amzDate: '20130524T000000Z',
      scope: '20130524/us-east-1/s3/aws4_request',
    };
    const body = signedChunks(key, signing.seedSignature, signing.amzDate, signing.scope, [
      Buffer.alloc(65536, 'a'),
      Buffer.alloc(1024, 'a'),
    ]);
    expect(body.toString('latin1')).toContain(
      'chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648',
    );
    const d = new ChunkDecoder(signing);
    let n = 0;
    for (let i = 0; i < body.length; i += 1000)
      for (const s of d.push(body.subarray(i, i + 1000))) n += s.length;
    d.finish();
    expect(n).toBe(66560);
    const tampered = Buffer.from(body);
    tampered[200] ^= 1;
    expect(() => new ChunkDecoder(signing).push(tampered)).toThrow(/signature/);
  });

  it('takes the SDK default: unsigned aws-chunked body with a CRC32 trailer', async () => {
    const c = s3(sb);
    const data = bytes(3 * 1024 * 1024 + 17, 5);
    async function* stream() {
      for (let i = 0; i < data.length; i += 256 * 1024) yield data.subarray(i, i + 256 * 1024);
    }
    const put = await c.send(
      new PutObjectCommand({
        Bucket: B,
        Key: 'sdk-stream',
        Body: Readable.from(stream()),
        ContentLength: data.length,
      }),
    );
    expect(put.ChecksumCRC32).toBe(crcB64(data));
    const got = await c.send(new GetObjectCommand({ Bucket: B, Key: 'sdk-stream', ChecksumMode: 'ENABLED' }));
    expect(got.ChecksumCRC32).toBe(crcB64(data));
    expect((await collect(got.Body)).equals(data)).toBe(true);
  });

  it('verifies trailing checksums and decoded lengths', async () => {
    const data = Buffer.from('hello chunked world');
    const frame = (trailer: string) =>
      Buffer.concat([
        Buffer.from(`${data.length.toString(16)}\r\n`),
        data,
        Buffer.from(`\r\n0\r\n${trailer}\r\n\r\n`),
      ]);
    const headers = (len: number) => ({
      'content-encoding': 'aws-chunked',
      'x-amz-decoded-content-length': String(len),
      'x-amz-trailer': 'x-amz-checksum-crc32',
    });
    const ok = await raw(sb, {
      method: 'PUT',
      path: `/${B}/trailer`,
      body: frame(`x-amz-checksum-crc32:${crcB64(data)}`),
      headers: headers(data.length),
      payloadHash: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
    });
    expect(ok.status).toBe(200);
    expect(ok.headers['x-amz-checksum-crc32']).toBe(crcB64(data));
    const bad = await raw(sb, {
      method: 'PUT',
      path: `/${B}/trailer2`,
      body: frame('x-amz-checksum-crc32:AAAAAA=='),
      headers: headers(data.length),
      payloadHash: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
    });
    expect([bad.status, codeOf(bad)]).toEqual([400, 'BadDigest']);
    const short = await raw(sb, {
      method: 'PUT',
      path: `/${B}/trailer3`,
      body: frame(`x-amz-checksum-crc32:${crcB64(data)}`),
      headers: headers(data.length + 1),
      payloadHash: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
    });
    expect([short.status, codeOf(short)]).toEqual([400, 'IncompleteBody']);
  });
});
