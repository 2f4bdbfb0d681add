export interface Counter {
  service: string;
  operation: string;
  requests: number;
  errors: number; // answers with status >= 400 (and dropped connections)
  bytesIn: number; // request bodies
  bytesOut: number; // response bodies
}

/** Request counters per service and operation, for cost accounting in tests and benchmarks. */
export class Counters {
  private readonly rows = new Map<string, Counter>();

  count(service: string, operation: string, bytesIn: number, bytesOut: number, error = false): void {
    const key = `${service}\n${operation}`;
    let row = this.rows.get(key);
    if (!row) {
      row = { service, operation, requests: 0, errors: 0, bytesIn: 0, bytesOut: 0 };
      this.rows.set(key, row);
    }
    row.requests++;
    if (error) row.errors++;
    row.bytesIn += bytesIn;
    row.bytesOut += bytesOut;
  }

  list(): Counter[] {
    return [...this.rows.values()].map((r) => ({ ...r }));
  }

  reset(): void {
    this.rows.clear();
  }
}
