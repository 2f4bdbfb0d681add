import { AwsError } from '../core/errors.js';
import type { Tag } from '../core/model.js';
import type { Filter } from './query.js';

type Scalar = string | number | boolean | undefined;
/** The values a record shows for one filter name (a record matches when any of them matches any filter value). */
export type FilterFields<T> = Record<string, (r: T) => Scalar | Scalar[]>;

/** AWS's filter values are patterns: `*` any run of characters, `?` one, backslash escapes. */
function pattern(value: string): RegExp {
  let re = '';
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c === '\\' && i + 1 < value.length) re += escapeRe(value[++i]!);
    else if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else re += escapeRe(c);
  }
  return new RegExp(`^${re}$`, 's');
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function tagValues(tags: Tag[], name: string): string[] | undefined {
  if (name.startsWith('tag:')) {
    const key = name.slice(4);
    return tags.filter((t) => t.Key === key).map((t) => t.Value);
  }
  if (name === 'tag-key') return tags.map((t) => t.Key);
  if (name === 'tag-value') return tags.map((t) => t.Value);
  return undefined;
}

/** Filters AND together; a filter's values OR. Unknown filter names are refused as AWS refuses them. */
export function applyFilters<T>(
  items: T[],
  filters: Filter[],
  fields: FilterFields<T>,
  tagsOf?: (r: T) => Tag[],
): T[] {
  if (filters.length === 0) return items;
  const compiled = filters.map((f) => {
    const field = fields[f.name];
    const isTag = tagsOf && (f.name.startsWith('tag:') || f.name === 'tag-key' || f.name === 'tag-value');
    if (!field && !isTag) throw new AwsError('InvalidParameterValue', `The filter '${f.name}' is invalid`);
    const patterns = f.values.map(pattern);
    const get = (r: T): Scalar[] => {
      if (field) {
        const v = field(r);
        return Array.isArray(v) ? v : [v];
      }
      return tagValues(tagsOf!(r), f.name) ?? [];
    };
    return { get, patterns };
  });
  return items.filter((r) =>
    compiled.every(({ get, patterns }) => {
      const values = get(r)
        .filter((v) => v !== undefined)
        .map(String);
      return values.some((v) => patterns.some((p) => p.test(v)));
    }),
  );
}
