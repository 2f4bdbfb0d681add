/**
 * Policy Condition blocks: { Operator: { key: value | [values] } }. Every operator must hold (AND), any value of
 * a key may match (OR). The operators a backup appliance's policies use are implemented; an unknown operator
 * never holds, so a policy we cannot read grants nothing.
 */
export type Condition = Record<string, Record<string, string | string[] | boolean | number>>;

type Context = Record<string, string | string[]>;

const STRING_TESTS: Record<string, (want: string, got: string) => boolean> = {
  StringEquals: (w, g) => w === g,
  StringEqualsIgnoreCase: (w, g) => w.toLowerCase() === g.toLowerCase(),
  StringLike: (w, g) => like(w, g),
  ArnEquals: (w, g) => w === g,
  ArnLike: (w, g) => like(w, g),
  Bool: (w, g) => w.toLowerCase() === g.toLowerCase(),
  NumericEquals: (w, g) => Number(w) === Number(g),
  NumericLessThan: (w, g) => Number(g) < Number(w),
  NumericLessThanEquals: (w, g) => Number(g) <= Number(w),
  NumericGreaterThan: (w, g) => Number(g) > Number(w),
  NumericGreaterThanEquals: (w, g) => Number(g) >= Number(w),
};

/** The negated operators: true when no value matches (and when the key is absent). */
const NEGATED: Record<string, string> = {
  StringNotEquals: 'StringEquals',
  StringNotEqualsIgnoreCase: 'StringEqualsIgnoreCase',
  StringNotLike: 'StringLike',
  ArnNotEquals: 'ArnEquals',
  ArnNotLike: 'ArnLike',
  NumericNotEquals: 'NumericEquals',
};

function like(pattern: string, value: string): boolean {
  const body = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 's').test(value);
}

/** Context keys are case-insensitive in IAM. */
function lookup(ctx: Context, key: string): string[] | undefined {
  const lower = key.toLowerCase();
  for (const [k, v] of Object.entries(ctx)) if (k.toLowerCase() === lower) return Array.isArray(v) ? v : [v];
  return undefined;
}

function operatorHolds(op: string, block: Condition[string], ctx: Context): boolean {
  let name = op;
  let set: 'any' | 'all' | undefined;
  if (name.startsWith('ForAnyValue:')) [set, name] = ['any', name.slice(12)];
  else if (name.startsWith('ForAllValues:')) [set, name] = ['all', name.slice(13)];
  const ifExists = name.endsWith('IfExists');
  if (ifExists) name = name.slice(0, -8);
  if (name === 'Null') {
    return Object.entries(block).every(([k, v]) => (lookup(ctx, k) === undefined) === (String(v) === 'true'));
  }
  const negated = NEGATED[name];
  const test = STRING_TESTS[negated ?? name];
  if (!test) return false;
  return Object.entries(block).every(([key, raw]) => {
    const wants = (Array.isArray(raw) ? raw : [raw]).map(String);
    const got = lookup(ctx, key);
    if (got === undefined) return ifExists || negated !== undefined || set === 'all';
    const hit = (g: string) => wants.some((w) => test(w, g));
    if (negated) return !got.some(hit);
    return set === 'all' ? got.every(hit) : got.some(hit);
  });
}

export function conditionsHold(cond: Condition | undefined, ctx: Context): boolean {
  if (!cond) return true;
  return Object.entries(cond).every(([op, block]) => operatorHolds(op, block, ctx));
}
