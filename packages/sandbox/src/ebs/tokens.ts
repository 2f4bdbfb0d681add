import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { StateStore } from '../core/state.js';

/** AWS: block tokens are valid for 7 days. */
export const BLOCK_TOKEN_SECONDS = 7 * 24 * 3600;
/** Page tokens are short-lived; AWS does not document how long, an hour is what clients must be ready for. */
export const PAGE_TOKEN_SECONDS = 3600;

const MAC_BYTES = 16;
const BLOCK_KIND = 1;
const PAGE_KIND = 2;

/**
 * Opaque tokens, HMAC-signed with a key kept in the state journal (so tokens survive a restart): block tokens
 * name (snapshot, index) and expire; page tokens name the next block index of one listing (bound to its
 * operation and snapshots) and expire. Clients cannot forge or move them between snapshots.
 */
export class Tokens {
  private readonly key: Buffer;

  constructor(state: StateStore) {
    const meta = state.table<{ key: string }>('ebs.meta');
    let row = meta.get('tokenKey');
    if (!row) {
      row = { key: randomBytes(32).toString('base64') };
      meta.put('tokenKey', row);
    }
    this.key = Buffer.from(row.key, 'base64');
  }

  blockToken(snapshotId: string, index: number, expiresAtSec: number): string {
    const body = Buffer.allocUnsafe(9 + snapshotId.length);
    body.writeUInt8(BLOCK_KIND, 0);
    body.writeUInt32BE(expiresAtSec >>> 0, 1);
    body.writeUInt32BE(index >>> 0, 5);
    body.write(snapshotId, 9, 'latin1');
    return this.seal(body);
  }

  /** 'ok', 'expired' or 'invalid' (forged, or for another snapshot or block). */
  checkBlockToken(
    token: string,
    snapshotId: string,
    index: number,
    nowSec: number,
  ): 'ok' | 'expired' | 'invalid' {
    const body = this.open(token);
    if (!body || body.length < 9 || body.readUInt8(0) !== BLOCK_KIND) return 'invalid';
    if (body.readUInt32BE(5) !== index || body.toString('latin1', 9) !== snapshotId) return 'invalid';
    return body.readUInt32BE(1) < nowSec ? 'expired' : 'ok';
  }

  pageToken(scope: string, next: number, expiresAtSec: number): string {
    const body = Buffer.allocUnsafe(17);
    body.writeUInt8(PAGE_KIND, 0);
    body.writeUInt32BE(expiresAtSec >>> 0, 1);
    body.writeUInt32BE(next >>> 0, 5);
    scopeHash(scope).copy(body, 9);
    return this.seal(body);
  }

  /** The next block index, or undefined when the token is forged, expired or from another listing. */
  checkPageToken(token: string, scope: string, nowSec: number): number | undefined {
    const body = this.open(token);
    if (body?.length !== 17 || body.readUInt8(0) !== PAGE_KIND) return undefined;
    if (!body.subarray(9).equals(scopeHash(scope))) return undefined;
    if (body.readUInt32BE(1) < nowSec) return undefined;
    return body.readUInt32BE(5);
  }

  private seal(body: Buffer): string {
    const mac = createHmac('sha256', this.key).update(body).digest().subarray(0, MAC_BYTES);
    return Buffer.concat([body, mac]).toString('base64');
  }

  private open(token: string): Buffer | undefined {
    if (!/^[A-Za-z0-9+/=]{1,256}$/.test(token)) return undefined;
    const raw = Buffer.from(token, 'base64');
    if (raw.length <= MAC_BYTES) return undefined;
    const body = raw.subarray(0, raw.length - MAC_BYTES);
    const mac = createHmac('sha256', this.key).update(body).digest().subarray(0, MAC_BYTES);
    return timingSafeEqual(mac, raw.subarray(raw.length - MAC_BYTES)) ? body : undefined;
  }
}

function scopeHash(scope: string): Buffer {
  return createHash('sha256').update(scope).digest().subarray(0, 8);
}
