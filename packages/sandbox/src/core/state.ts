import {
  appendFileSync,
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';

/**
 * Durable control-plane state: named tables of JSON records, kept in memory and journaled to
 * `<dir>/state.jsonl` on every change (one line per put or delete). kill -9 cannot lose an appended line (it is
 * in the page cache); a torn last line after a power loss is skipped. On open the journal is replayed and
 * compacted into a fresh file (written aside, fsynced, renamed).
 */
export class StateStore {
  private readonly tables = new Map<string, Map<string, unknown>>();
  private readonly journalPath: string | undefined;

  constructor(dir?: string) {
    if (!dir) return; // in-memory only
    mkdirSync(dir, { recursive: true });
    this.journalPath = join(dir, 'state.jsonl');
    if (existsSync(this.journalPath)) this.replay(readFileSync(this.journalPath, 'utf8'));
    this.compact();
  }

  table<T>(name: string): Table<T> {
    let rows = this.tables.get(name);
    if (!rows) {
      rows = new Map();
      this.tables.set(name, rows);
    }
    return new Table<T>(name, rows as Map<string, T>, (line) => this.append(line));
  }

  private append(line: string): void {
    if (this.journalPath) appendFileSync(this.journalPath, `${line}\n`);
  }

  private replay(text: string): void {
    for (const line of text.split('\n')) {
      if (!line) continue;
      let rec: { op: 'put' | 'del'; t: string; id: string; v?: unknown };
      try {
        rec = JSON.parse(line);
      } catch {
        continue; // a torn final line: the change it describes never completed
      }
      const rows = this.tables.get(rec.t) ?? new Map<string, unknown>();
      this.tables.set(rec.t, rows);
      if (rec.op === 'put') rows.set(rec.id, rec.v);
      else rows.delete(rec.id);
    }
  }

  private compact(): void {
    if (!this.journalPath) return;
    const tmp = `${this.journalPath}.tmp`;
    const fd = openSync(tmp, 'w');
    try {
      for (const [t, rows] of this.tables) {
        for (const [id, v] of rows) writeSync(fd, `${JSON.stringify({ op: 'put', t, id, v })}\n`);
      }
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.journalPath);
  }
}

export class Table<T> {
  constructor(
    readonly name: string,
    private readonly rows: Map<string, T>,
    private readonly journal: (line: string) => void,
  ) {}

  get(id: string): T | undefined {
    return this.rows.get(id);
  }

  has(id: string): boolean {
    return this.rows.has(id);
  }

  /** Stores (and journals) the record. Records are replaced whole: mutate a copy, then put it. */
  put(id: string, value: T): void {
    this.journal(JSON.stringify({ op: 'put', t: this.name, id, v: value }));
    this.rows.set(id, value);
  }

  delete(id: string): void {
    if (!this.rows.has(id)) return;
    this.journal(JSON.stringify({ op: 'del', t: this.name, id }));
    this.rows.delete(id);
  }

  values(): IterableIterator<T> {
    return this.rows.values();
  }

  get size(): number {
    return this.rows.size;
  }
}
