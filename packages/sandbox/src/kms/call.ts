import type { AwsError } from '../core/errors.js';
import type { Principal } from '../core/model.js';
import type { SandboxContext } from '../core/service.js';
import type { MasterKey } from './crypto.js';
import { kmsError } from './keys.js';

/** One KMS call: who, where, the JSON input; operations answer the JSON output. */
export interface KmsCall {
  readonly ctx: SandboxContext;
  readonly master: MasterKey;
  readonly who: Principal;
  readonly region: string;
  readonly input: Record<string, unknown>;
}

export type KmsOp = (k: KmsCall) => Record<string, unknown>;

function lowerFirst(name: string): string {
  return name[0]?.toLowerCase() + name.slice(1);
}

/** AWS's message for a constraint failure, e.g. a missing required member. */
export function validation(message: string): AwsError {
  return kmsError('ValidationException', `1 validation error detected: ${message}`);
}

export function str(k: KmsCall, name: string): string | undefined {
  const v = k.input[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw kmsError('SerializationException', `${name} must be a string`);
  return v;
}

export function reqStr(k: KmsCall, name: string): string {
  const v = str(k, name);
  if (v === undefined || v === '') {
    throw validation(
      `Value null at '${lowerFirst(name)}' failed to satisfy constraint: Member must not be null`,
    );
  }
  return v;
}

export function int(k: KmsCall, name: string): number | undefined {
  const v = k.input[name];
  if (v === undefined || v === null) return undefined;
  if (!Number.isInteger(v)) throw kmsError('SerializationException', `${name} must be an integer`);
  return v as number;
}

/** A blob member: base64 in the JSON protocol. */
export function blob(k: KmsCall, name: string, max: number): Buffer {
  const v = reqStr(k, name);
  const b = Buffer.from(v, 'base64');
  if (b.length < 1 || b.length > max) {
    throw validation(
      `Value at '${lowerFirst(name)}' failed to satisfy constraint: Member must have length between 1 and ${max}`,
    );
  }
  return b;
}

export function stringMap(k: KmsCall, name: string): Record<string, string> {
  const v = k.input[name];
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v) || Object.values(v).some((x) => typeof x !== 'string')) {
    throw kmsError('SerializationException', `${name} must be a map of strings`);
  }
  return v as Record<string, string>;
}

export function epoch(iso: string): number {
  return Date.parse(iso) / 1000;
}

/** Limit and Marker paging as KMS lists do it: Marker is opaque (here the offset), Truncated says more follow. */
export function page<T>(k: KmsCall, items: T[]): { items: T[]; NextMarker?: string; Truncated: boolean } {
  const limit = int(k, 'Limit') ?? 100;
  if (limit < 1 || limit > 1000) {
    throw validation(
      `Value '${limit}' at 'limit' failed to satisfy constraint: Member must have value between 1 and 1000`,
    );
  }
  const marker = str(k, 'Marker');
  const start = marker === undefined ? 0 : Number(Buffer.from(marker, 'base64url').toString('utf8'));
  if (!Number.isInteger(start) || start < 0 || start > items.length) {
    throw kmsError('InvalidMarkerException', 'The marker is not valid.');
  }
  const end = start + limit;
  const more = end < items.length;
  return {
    items: items.slice(start, end),
    Truncated: more,
    ...(more ? { NextMarker: Buffer.from(String(end)).toString('base64url') } : {}),
  };
}
