import type { TSchema } from '@sinclair/typebox';
import { Problem } from '../schemas.js';

/** A route's responses: its successes plus the problem+json every route may answer. */
export function responses(ok: Record<number, TSchema>): Record<string, TSchema> {
  return { ...ok, '4xx': Problem, '5xx': Problem };
}
