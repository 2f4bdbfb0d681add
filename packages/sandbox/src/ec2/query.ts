import { AwsError } from '../core/errors.js';

export interface Filter {
  name: string;
  values: string[];
}

/**
 * The parameters of one EC2 Query request: a flat map of names such as `Filter.1.Value.2`. EC2 flattens every
 * list as `Name.N` (N from 1) and every structure as `Name.Member`, so nested shapes are reached with sub().
 */
export class Params {
  constructor(private readonly map: ReadonlyMap<string, string>) {}

  /** Body (form-encoded) and query string together: the SDKs POST, the console and presigned calls GET. */
  static fromRequest(query: URLSearchParams, body: Buffer, contentType: string | undefined): Params {
    const map = new Map<string, string>();
    for (const [k, v] of query) map.set(k, v);
    if (body.length > 0 && (!contentType || contentType.includes('x-www-form-urlencoded'))) {
      for (const [k, v] of new URLSearchParams(body.toString('utf8'))) map.set(k, v);
    }
    return new Params(map);
  }

  /** Flattens a plain object the way the SDK serialises it, for in-process callers (the demo seed). */
  static fromObject(obj: Record<string, unknown>): Params {
    const map = new Map<string, string>();
    const walk = (prefix: string, v: unknown): void => {
      if (v === undefined || v === null) return;
      if (Array.isArray(v)) {
        for (const [i, item] of v.entries()) walk(`${prefix}.${i + 1}`, item);
      } else if (typeof v === 'object')
        for (const [k, x] of Object.entries(v)) walk(prefix ? `${prefix}.${k}` : k, x);
      else map.set(prefix, String(v));
    };
    walk('', obj);
    return new Params(map);
  }

  has(name: string): boolean {
    if (this.map.has(name)) return true;
    for (const k of this.map.keys()) if (k.startsWith(`${name}.`)) return true;
    return false;
  }

  str(name: string): string | undefined {
    return this.map.get(name);
  }

  /** A required parameter; AWS answers MissingParameter naming it. */
  req(name: string): string {
    const v = this.map.get(name);
    if (v === undefined || v === '') throw missing(name);
    return v;
  }

  int(name: string): number | undefined {
    const v = this.map.get(name);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n)) throw new AwsError('InvalidParameterValue', `Invalid value '${v}' for ${name}`);
    return n;
  }

  bool(name: string): boolean | undefined {
    const v = this.map.get(name);
    if (v === undefined) return undefined;
    return v.toLowerCase() === 'true';
  }

  /** `Name.1`, `Name.2`, ... in index order (clients may skip numbers). */
  list(name: string): string[] {
    const out: Array<[number, string]> = [];
    const re = new RegExp(`^${escapeRe(name)}\\.(\\d+)$`);
    for (const [k, v] of this.map) {
      const m = re.exec(k);
      if (m) out.push([Number(m[1]), v]);
    }
    return out.sort((a, b) => a[0] - b[0]).map(([, v]) => v);
  }

  /** `Name.N.Member...` as one Params per N, in index order. */
  structs(name: string): Params[] {
    const groups = new Map<number, Map<string, string>>();
    const re = new RegExp(`^${escapeRe(name)}\\.(\\d+)\\.(.+)$`);
    for (const [k, v] of this.map) {
      const m = re.exec(k);
      if (!m) continue;
      const n = Number(m[1]);
      const g = groups.get(n) ?? new Map<string, string>();
      groups.set(n, g);
      g.set(m[2]!, v);
    }
    return [...groups.entries()].sort((a, b) => a[0] - b[0]).map(([, g]) => new Params(g));
  }

  /** The members of structure `Name` (keys `Name.X`), or undefined when none was sent. */
  sub(name: string): Params | undefined {
    const g = new Map<string, string>();
    const prefix = `${name}.`;
    for (const [k, v] of this.map) if (k.startsWith(prefix)) g.set(k.slice(prefix.length), v);
    return g.size ? new Params(g) : undefined;
  }

  filters(): Filter[] {
    return this.structs('Filter').map((f) => ({ name: f.req('Name'), values: f.list('Value') }));
  }

  entries(): IterableIterator<[string, string]> {
    return this.map.entries();
  }
}

export function missing(name: string): AwsError {
  return new AwsError('MissingParameter', `The request must contain the parameter ${name}`);
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
