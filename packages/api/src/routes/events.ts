import type { ServerResponse } from 'node:http';
import { can, TOPIC_PERMISSION } from '@lifeboat/appliance';
import type { EventRecord } from '@lifeboat/catalog';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { authenticate } from '../auth-hook.js';
import { type ApiContext, principal } from '../context.js';
import { responses } from './responses.js';

const HEARTBEAT_MS = 15_000;
const RECHECK_MS = 1000;

/**
 * Server-sent events. A subscriber registers before the replay of what it missed, buffers what arrives meanwhile,
 * and sends each id once in order: nothing falls between the replay and the live stream.
 */
export function eventRoutes(app: FastifyInstance, ctx: ApiContext, open: Set<ServerResponse>): void {
  app.get(
    '/events',
    {
      schema: {
        'x-permission': 'self',
        summary: 'Live events (text/event-stream), resumable with Last-Event-ID; topics filtered by role',
        tags: ['events'],
        querystring: Type.Object(
          { lastEventId: Type.Optional(Type.Integer({ minimum: 0 })) },
          { additionalProperties: false },
        ),
        headers: Type.Object(
          { 'last-event-id': Type.Optional(Type.String({ pattern: '^\\d{1,15}$' })) },
          { additionalProperties: true },
        ),
        response: responses({ 200: Type.String({ description: 'text/event-stream' }) }),
      },
    },
    async (request, reply) => {
      // HEAD (which fastify derives from GET) gets the headers only, not a stream that never ends.
      if (request.method === 'HEAD') {
        return reply.header('cache-control', 'no-store').type('text/event-stream; charset=utf-8').send();
      }
      let role = principal(request).role;
      const header = request.headers['last-event-id'];
      const query = (request.query as { lastEventId?: number }).lastEventId;
      const newest = await ctx.appliance.events.lastId();
      // An id beyond the newest (a client of a catalog since restored from an older copy) resumes from now:
      // otherwise it would skip every event until the ids caught up with it.
      const from = Math.min(header !== undefined ? Number(header) : (query ?? newest), newest);
      const res = reply.raw;
      reply.hijack();
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      let sent = from;
      let replaying = true;
      const buffered: EventRecord[] = [];
      const send = (event: EventRecord) => {
        if (event.id <= sent) return;
        sent = event.id;
        const needs = TOPIC_PERMISSION[event.topic];
        if (needs && !can(role, needs)) return;
        res.write(`id: ${event.id}\nevent: ${event.topic}\ndata: ${JSON.stringify(event.data)}\n\n`);
      };
      // The stream outlives the request's authentication: before each live event and heartbeat the login is checked
      // again (in order), so that a logout, password change, disabled user, demotion or expiry takes effect here
      // too. A login that ended ends the stream; the client's reconnect is then answered 401.
      // At most one check a second, so that busy streams (session progress) do not cost a catalog read per event;
      // at once after any change to logins or users (the audit event that announces it), and past the expiry.
      let checked = Promise.resolve();
      let checkedAt = Date.now();
      const expiresAt = Date.parse(principal(request).expiresAt);
      const whileSignedIn = (then: () => void, force = false) => {
        checked = checked.then(async () => {
          if (res.writableEnded) return;
          const now = Date.now();
          if (force || now - checkedAt >= RECHECK_MS || now >= expiresAt) {
            try {
              role = (await authenticate(request, ctx)).role;
              checkedAt = Date.now();
            } catch {
              res.end();
              return;
            }
          }
          then();
        });
      };
      const live = (e: EventRecord) => whileSignedIn(() => send(e), changesLogins(e));
      const unsubscribe = ctx.appliance.events.subscribe((e) => (replaying ? buffered.push(e) : live(e)));
      const heartbeat = setInterval(() => whileSignedIn(() => res.write(': keep-alive\n\n')), HEARTBEAT_MS);
      open.add(res);
      res.on('close', () => {
        clearInterval(heartbeat);
        unsubscribe();
        open.delete(res);
      });
      res.write(`retry: 2000\n: resuming after ${from}\n\n`);
      try {
        for await (const e of ctx.appliance.events.replay(from)) {
          if (res.destroyed) break;
          send(e);
        }
      } finally {
        replaying = false;
        for (const e of buffered.splice(0)) live(e);
      }
    },
  );
}

function changesLogins(event: EventRecord): boolean {
  const action = (event.data as { action?: unknown } | null)?.action;
  return event.topic === 'audit' && typeof action === 'string' && /^(auth|user)\./.test(action);
}
