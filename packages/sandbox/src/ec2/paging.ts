import { AwsError } from '../core/errors.js';
import type { Params } from './query.js';

export interface Page<T> {
  items: T[];
  nextToken?: string;
}

export interface PageLimits {
  min: number;
  max: number;
  /**
   * A MaxResults above max returns max items instead of being refused, as some Describe calls document it
   * (DescribeSnapshots: "if MaxResults is given a value larger than 1,000, only 1,000 results are returned").
   */
  clamp?: boolean;
}

/**
 * Refuses what AWS refuses before looking at any item: MaxResults with the ids parameter (DescribeSnapshots: "You
 * cannot specify this parameter and the snapshot IDs parameter in the same request"), and MaxResults out of range.
 */
export function checkPaging(p: Params, limits: PageLimits, idsParam?: string): void {
  const max = p.int('MaxResults');
  if (max === undefined) return;
  if (idsParam && p.has(idsParam)) {
    throw new AwsError(
      'InvalidParameterCombination',
      `The parameter ${idsParam} cannot be used with the parameter maxResults`,
    );
  }
  if (max < limits.min || (max > limits.max && !limits.clamp)) {
    throw new AwsError(
      'InvalidParameterValue',
      `Value ( ${max} ) for parameter maxResults is invalid. Expecting a value between ${limits.min} and ${limits.max}.`,
    );
  }
}

/**
 * MaxResults/NextToken as EC2 pages Describe calls. Items must come sorted by key; the token names the last key
 * returned, so records created or deleted between pages neither repeat nor shift the rest.
 */
export function paginate<T>(
  items: T[],
  p: Params,
  key: (t: T) => string,
  limits: PageLimits,
  idsParam?: string,
): Page<T> {
  const max = p.int('MaxResults');
  const token = p.str('NextToken');
  if (max === undefined && token === undefined) return { items };
  checkPaging(p, limits, idsParam);
  let rest = items;
  if (token !== undefined) {
    const after = decodeToken(token);
    rest = items.filter((t) => key(t) > after);
  }
  const size = Math.min(max ?? limits.max, limits.max);
  const page = rest.slice(0, size);
  const last = page[page.length - 1];
  return rest.length > size && last ? { items: page, nextToken: encodeToken(key(last)) } : { items: page };
}

function encodeToken(after: string): string {
  return Buffer.from(JSON.stringify({ after })).toString('base64url');
}

function decodeToken(token: string): string {
  try {
    const v = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { after?: unknown };
    if (typeof v.after === 'string') return v.after;
  } catch {
    // fall through: a token we did not issue
  }
  throw new AwsError('InvalidPaginationToken', 'The specified pagination token is not valid or is expired.');
}
