import { createHash, createHmac, type Hash, timingSafeEqual } from 'node:crypto';
import { AwsError } from '../core/errors.js';
import type { ChunkSigning } from '../core/service.js';

const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
/** A chunk header or trailer line longer than this is not aws-chunked framing. */
const MAX_LINE = 4096;

type State = 'header' | 'data' | 'crlf' | 'trailer' | 'done';

function incomplete(message = 'The request body terminated unexpectedly'): AwsError {
  return new AwsError('IncompleteBody', message, 400);
}

function badSignature(): AwsError {
  return new AwsError(
    'SignatureDoesNotMatch',
    'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
    403,
  );
}

/**
 * Decodes an aws-chunked body as it arrives: `hex-size[;chunk-signature=sig]\r\n data \r\n ... 0...\r\n`, then
 * trailer lines (x-amz-checksum-crc32:..., x-amz-trailer-signature:...) and an empty line. Data comes back as
 * slices of the input (no copy). With signing, every chunk's signature is checked against the chain that starts
 * at the request's own signature (STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]).
 */
export class ChunkDecoder {
  readonly trailers = new Map<string, string>();
  private state: State = 'header';
  private line = '';
  private remaining = 0;
  private crlfSeen = 0;
  private previous: string;
  private chunkHash: Hash | undefined;
  private chunkSignature = '';
  private trailerText = '';

  constructor(private readonly signing?: ChunkSigning) {
    this.previous = signing?.seedSignature ?? '';
  }

  push(input: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let pos = 0;
    while (pos < input.length && this.state !== 'done') {
      if (this.state === 'data') {
        const n = Math.min(this.remaining, input.length - pos);
        const slice = input.subarray(pos, pos + n);
        this.chunkHash?.update(slice);
        out.push(slice);
        pos += n;
        this.remaining -= n;
        if (this.remaining === 0) this.endChunk();
      } else if (this.state === 'crlf') {
        if (input[pos] !== (this.crlfSeen === 0 ? 13 : 10)) throw incomplete('Malformed aws-chunked body');
        pos++;
        if (++this.crlfSeen === 2) this.state = 'header';
      } else {
        pos = this.readLine(input, pos);
      }
    }
    if (pos < input.length) throw incomplete('Data after the end of the aws-chunked body');
    return out;
  }

  /** Checks the body ended where the framing says it does. */
  finish(): void {
    if (this.state !== 'done') throw incomplete();
  }

  private readLine(input: Buffer, pos: number): number {
    const nl = input.indexOf(10, pos);
    const end = nl < 0 ? input.length : nl + 1;
    this.line += input.toString('latin1', pos, end);
    if (this.line.length > MAX_LINE) throw incomplete('Malformed aws-chunked body');
    if (nl >= 0) {
      const line = this.line.replace(/\r?\n$/, '');
      this.line = '';
      if (this.state === 'header') this.header(line);
      else this.trailer(line);
    }
    return end;
  }

  private header(line: string): void {
    const [size, ...ext] = line.split(';');
    if (!size || !/^[0-9a-fA-F]+$/.test(size)) throw incomplete('Malformed aws-chunked body');
    this.remaining = Number.parseInt(size, 16);
    this.chunkSignature = ext.find((e) => e.startsWith('chunk-signature='))?.slice(16) ?? '';
    if (this.signing) this.chunkHash = createHash('sha256');
    if (this.remaining > 0) {
      this.state = 'data';
      return;
    }
    this.verifyChunk(EMPTY_SHA256);
    this.state = 'trailer';
  }

  private endChunk(): void {
    this.verifyChunk(this.chunkHash?.digest('hex') ?? '');
    this.state = 'crlf';
    this.crlfSeen = 0;
  }

  private trailer(line: string): void {
    if (line === '') {
      this.verifyTrailer();
      this.state = 'done';
      return;
    }
    const colon = line.indexOf(':');
    if (colon < 0) throw incomplete('Malformed aws-chunked trailer');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    this.trailers.set(name, value);
    if (name !== 'x-amz-trailer-signature') this.trailerText += `${name}:${value}\n`;
  }

  private verifyChunk(dataHash: string): void {
    const s = this.signing;
    if (!s) return;
    const toSign = `AWS4-HMAC-SHA256-PAYLOAD\n${s.amzDate}\n${s.scope}\n${this.previous}\n${EMPTY_SHA256}\n${dataHash}`;
    this.previous = this.check(toSign, this.chunkSignature);
  }

  private verifyTrailer(): void {
    const s = this.signing;
    const claimed = this.trailers.get('x-amz-trailer-signature');
    if (!s || claimed === undefined) return;
    const hash = createHash('sha256').update(this.trailerText).digest('hex');
    this.check(`AWS4-HMAC-SHA256-TRAILER\n${s.amzDate}\n${s.scope}\n${this.previous}\n${hash}`, claimed);
  }

  private check(toSign: string, claimed: string): string {
    const expected = createHmac('sha256', (this.signing as ChunkSigning).key)
      .update(toSign)
      .digest();
    const ok = /^[0-9a-f]{64}$/.test(claimed) && timingSafeEqual(expected, Buffer.from(claimed, 'hex'));
    if (!ok) throw badSignature();
    return claimed;
  }
}
