import type { CatalogStores, IdempotencyRecord } from '@lifeboat/catalog';
import { sha256 } from './auth.js';
import type { Clock } from './clock.js';
import { ApplianceError } from './errors.js';

const KEEP_MS = 24 * 3_600_000;

export interface StoredResponse {
  status: number;
  contentType: string;
  body: string;
}

/**
 * Idempotency keys on POST: the first response to a (user, key) pair is kept for a day and replayed; the same
 * key with another request is refused; a second copy arriving while the first still runs is told so (409).
 */
export class IdempotencyService {
  private readonly running = new Set<string>();

  constructor(
    private readonly catalog: CatalogStores,
    private readonly clock: Clock,
  ) {}

  /** The stored response to replay, or undefined after claiming the key for this request. */
  async begin(
    userId: string,
    key: string,
    method: string,
    path: string,
    body: string,
  ): Promise<StoredResponse | undefined> {
    const requestHash = sha256(`${method}\n${path}\n${body}`);
    const stored = await this.catalog.idempotency.get(userId, key);
    if (stored && stored.createdAt > new Date(this.clock.now().getTime() - KEEP_MS).toISOString()) {
      if (stored.requestHash !== requestHash) {
        throw new ApplianceError(
          'IDEMPOTENCY_KEY_REUSED',
          'this Idempotency-Key was used for another request: use a new key for a new request',
        );
      }
      return { status: stored.status, contentType: stored.contentType, body: stored.body };
    }
    const slot = `${userId}\u0000${key}`;
    if (this.running.has(slot)) {
      throw new ApplianceError(
        'IDEMPOTENCY_IN_PROGRESS',
        'a request with this Idempotency-Key is still running: wait for it',
      );
    }
    this.running.add(slot);
    return undefined;
  }

  /** Keeps the response (client errors too: the same request would get the same answer); 5xx are not kept. */
  async finish(
    userId: string,
    key: string,
    method: string,
    path: string,
    body: string,
    response: StoredResponse,
  ): Promise<void> {
    this.running.delete(`${userId}\u0000${key}`);
    if (response.status >= 500) return;
    const record: IdempotencyRecord = {
      userId,
      key,
      method,
      path,
      requestHash: sha256(`${method}\n${path}\n${body}`),
      ...response,
      createdAt: this.clock.now().toISOString(),
    };
    await this.catalog.idempotency.deleteOlderThan(
      new Date(this.clock.now().getTime() - KEEP_MS).toISOString(),
    );
    await this.catalog.idempotency.put(record);
  }

  /** A claimed key whose request ended without a response to keep. */
  release(userId: string, key: string): void {
    this.running.delete(`${userId}\u0000${key}`);
  }
}
