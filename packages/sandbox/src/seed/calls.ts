import type { Tag } from '../core/model.js';
import type { SandboxContext } from '../core/service.js';
import { callEc2 } from '../ec2/index.js';

/** An EC2 action run in-process for one account and region, with SDK-shaped parameters. */
export type Ec2 = (action: string, params?: Record<string, unknown>) => Record<string, unknown>;

export function ec2(ctx: SandboxContext, accountId: string, region: string): Ec2 {
  return (action, params = {}) => callEc2(ctx, accountId, region, action, params) as Record<string, unknown>;
}

/** A string member deep in an answer, e.g. at(r, 'instancesSet', 0, 'instanceId'). */
export function at(o: unknown, ...path: Array<string | number>): string {
  let v: unknown = o;
  for (const p of path) v = (v as Record<string | number, unknown>)[p];
  return String(v);
}

export function tagSpec(type: string, tags: Record<string, string>) {
  return { ResourceType: type, Tag: tagList(tags) };
}

export function tagList(tags: Record<string, string>): Tag[] {
  return Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
}
