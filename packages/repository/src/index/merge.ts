import { compareId, RECORD, recordSource, setRecordSource } from './records.js';
import { type Run, type RunSource, type RunTuning, RunWriter } from './run.js';

/** A sorted stream of records: chunks of (buffer, count), and which sources count. */
export interface SortedInput {
  chunks: Iterator<[Buffer, number]>;
  isAlive(source: number): boolean;
}

interface Cursor {
  input: SortedInput;
  buf: Buffer;
  n: number;
  i: number;
}

/**
 * K-way merge of sorted inputs, yielding (buffer, offset, input number) for each record of a live source, in id
 * order. The buffer is the input's chunk and is valid until the next step. Inputs are few (at most a dozen runs),
 * so the smallest head is found by a linear scan.
 */
export function* mergeRecords(inputs: SortedInput[]): Generator<[Buffer, number, number]> {
  const cursors: Array<Cursor | undefined> = inputs.map((input) =>
    advanceChunk({ input, buf: Buffer.alloc(0), n: 0, i: 0 }),
  );
  for (;;) {
    let best = -1;
    for (let c = 0; c < cursors.length; c++) {
      const cur = cursors[c];
      if (!cur) continue;
      const b = best < 0 ? undefined : cursors[best]!;
      if (
        !b ||
        cur.buf.compare(b.buf, b.i * RECORD, b.i * RECORD + 32, cur.i * RECORD, cur.i * RECORD + 32) < 0
      )
        best = c;
    }
    if (best < 0) return;
    const cur = cursors[best]!;
    const at = cur.i * RECORD;
    if (cur.input.isAlive(recordSource(cur.buf, at))) yield [cur.buf, at, best];
    cur.i++;
    if (cur.i === cur.n) cursors[best] = advanceChunk(cur);
  }
}

function advanceChunk(cur: Cursor): Cursor | undefined {
  for (;;) {
    const next = cur.input.chunks.next();
    if (next.done) return undefined;
    [cur.buf, cur.n] = next.value;
    cur.i = 0;
    if (cur.n > 0) return cur;
  }
}

export function runInput(run: Run): SortedInput {
  return { chunks: run.chunks(), isAlive: (s) => run.isAlive(s) };
}

/**
 * Merges runs into one new run holding the records of their live sources (dead ones are dropped: this is how
 * superseded and deleted index files leave the cache). A source present in several inputs is one source of the
 * output; a record seen twice for the same output source is written once.
 */
export function mergeRuns(dir: string, repository: string, runs: Run[], tuning: RunTuning): Run {
  const sources: Array<Omit<RunSource, 'count'>> = [];
  const byId = new Map<string, number>();
  const maps = runs.map((run) =>
    run.footer.sources.map((s, i) => {
      if (!run.isAlive(i)) return -1;
      let out = byId.get(s.id);
      if (out === undefined) {
        out = sources.push({ id: s.id, total: s.total, supersedes: s.supersedes, size: s.size }) - 1;
        byId.set(s.id, out);
      }
      return out;
    }),
  );
  const expected = runs.reduce((n, r) => n + r.liveCount, 0);
  const writer = new RunWriter(
    dir,
    repository,
    expected,
    sources,
    tuning,
    runs.map((r) => r.name),
  );
  try {
    const last = Buffer.alloc(32);
    const lastSources: number[] = [];
    for (const [buf, at, input] of mergeRecords(runs.map(runInput))) {
      const out = maps[input]![recordSource(buf, at)]!;
      if (compareId(last, buf, at) === 0) {
        if (lastSources.includes(out)) continue;
      } else {
        buf.copy(last, 0, at, at + 32);
        lastSources.length = 0;
      }
      lastSources.push(out);
      setRecordSource(buf, at, out);
      writer.push(buf, at);
    }
    return writer.finish();
  } catch (err) {
    writer.abort();
    throw err;
  }
}
