import { randomBytes } from 'node:crypto';
import { isRepositoryError } from '../errors.js';
import type { Store } from './store.js';

/**
 * The contract every store must meet, as a list of named checks. Each check throws on failure. The test suite
 * (test/store-conformance.test.ts) runs them for each store; the S3 store will run the same list against the
 * sandbox's S3.
 */
export type ConformanceCheck = (store: Store) => Promise<void>;

function assert(cond: unknown, message: string): asserts cond {
  if (!cond) throw new Error(`store conformance: ${message}`);
}

async function expectCode(p: Promise<unknown>, code: string, what: string): Promise<void> {
  try {
    await p;
  } catch (err) {
    assert(
      isRepositoryError(err) && err.code === code,
      `${what}: expected ${code}, got ${(err as Error).message}`,
    );
    return;
  }
  assert(false, `${what}: expected ${code}, but it succeeded`);
}

async function keys(store: Store, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const o of store.list(prefix)) out.push(o.key);
  return out.sort();
}

export const storeConformance: Record<string, ConformanceCheck> = {
  async 'put then get returns the same bytes'(store) {
    const data = randomBytes(100_000);
    await store.put('data/ab/obj1', data);
    assert((await store.get('data/ab/obj1')).equals(data), 'get returned other bytes');
  },
  async 'put of several parts stores their concatenation'(store) {
    const a = randomBytes(1000);
    const b = randomBytes(3000);
    await store.put('meta/index/parts', [a, b]);
    assert((await store.get('meta/index/parts')).equals(Buffer.concat([a, b])), 'parts not concatenated');
  },
  async 'empty objects are allowed'(store) {
    await store.put('meta/empty', Buffer.alloc(0));
    assert((await store.get('meta/empty')).length === 0, 'empty object not empty');
    assert((await store.stat('meta/empty'))?.size === 0, 'stat of empty object');
  },
  async 'objects are write-once'(store) {
    await store.put('keys/k1', Buffer.from('first'));
    await expectCode(store.put('keys/k1', Buffer.from('second')), 'OBJECT_EXISTS', 'second put');
    assert((await store.get('keys/k1')).toString() === 'first', 'object was overwritten');
  },
  async 'getRange reads any range and refuses past the end'(store) {
    const data = randomBytes(10_000);
    await store.put('data/cd/range', data);
    assert(
      (await store.getRange('data/cd/range', 1234, 5000)).equals(data.subarray(1234, 6234)),
      'middle range',
    );
    assert((await store.getRange('data/cd/range', 9999, 1)).equals(data.subarray(9999)), 'last byte');
    const into = new Uint8Array(8000).fill(7);
    const viaInto = await store.getRange('data/cd/range', 100, 6000, into);
    assert(viaInto.equals(data.subarray(100, 6100)), 'getRange into a caller buffer returns the range');
    assert(
      viaInto.buffer !== into.buffer || (viaInto.byteOffset === into.byteOffset && into[6000] === 7),
      'a range read into a caller buffer starts at its start and stays within the range',
    );
    await expectCode(store.getRange('data/cd/range', 9000, 2000), 'REPO_CORRUPT', 'range past the end');
  },
  async 'missing objects are NOT_FOUND, stat undefined'(store) {
    await expectCode(store.get('data/zz/missing'), 'NOT_FOUND', 'get of a missing object');
    await expectCode(store.getRange('data/zz/missing', 0, 1), 'NOT_FOUND', 'getRange of a missing object');
    assert((await store.stat('data/zz/missing')) === undefined, 'stat of a missing object');
  },
  async 'list finds objects by prefix, recursively, with sizes'(store) {
    await store.put('data/01/p1', Buffer.alloc(10));
    await store.put('data/02/p2', Buffer.alloc(20));
    await store.put('meta/points/a', Buffer.alloc(1));
    await store.put('meta/points/b', Buffer.alloc(2));
    assert(
      JSON.stringify(await keys(store, 'data/')) === JSON.stringify(['data/01/p1', 'data/02/p2']),
      'list data/',
    );
    assert(
      JSON.stringify(await keys(store, 'meta/points/')) ===
        JSON.stringify(['meta/points/a', 'meta/points/b']),
      'list points',
    );
    const sizes: Record<string, number> = {};
    for await (const o of store.list('data/')) sizes[o.key] = o.size;
    assert(sizes['data/01/p1'] === 10 && sizes['data/02/p2'] === 20, 'list sizes');
    assert((await keys(store, 'nothing/')).length === 0, 'list of an empty prefix');
  },
  async 'delete removes, and deleting a missing object is fine'(store) {
    await store.put('meta/points/gone', Buffer.from('x'));
    await store.delete('meta/points/gone');
    assert((await store.stat('meta/points/gone')) === undefined, 'object still there');
    await store.delete('meta/points/gone');
    await store.put('meta/points/gone', Buffer.from('again')); // a deleted key can be written again
    assert((await store.get('meta/points/gone')).toString() === 'again', 'rewrite after delete');
  },
  async 'concurrent puts of one key: exactly one wins'(store) {
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => store.put('meta/race', Buffer.from(`writer ${i}`))),
    );
    assert(results.filter((r) => r.status === 'fulfilled').length === 1, 'not exactly one winner');
    assert(/^writer \d$/.test((await store.get('meta/race')).toString()), 'object is not one whole write');
  },
  async 'invalid keys are refused'(store) {
    for (const bad of ['../escape', '/abs', 'a//b', 'a/./b', '']) {
      await expectCode(store.put(bad, Buffer.from('x')), 'INVALID_ARGUMENT', `key "${bad}"`);
    }
  },
};
