import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ApiContext } from './context.js';

interface Claim {
  userId: string;
  key: string;
  body: string;
}

const claims = new WeakMap<FastifyRequest, Claim>();

/**
 * `Idempotency-Key` on authenticated POSTs: replay the kept response, or claim the key and keep the response
 * this request produces. Runs after validation, so that a malformed request claims nothing.
 */
export function installIdempotency(app: FastifyInstance, ctx: ApiContext): void {
  const service = ctx.appliance.idempotency;
  app.addHook('preHandler', async (request, reply) => {
    const key = request.headers['idempotency-key'];
    if (request.method !== 'POST' || typeof key !== 'string' || !request.principal) return;
    if (!/^[\x21-\x7e]{1,200}$/.test(key)) {
      throw Object.assign(new Error('Idempotency-Key must be 1-200 printable characters'), {
        validation: [
          { instancePath: '/idempotency-key', message: 'must be 1-200 printable ASCII characters' },
        ],
        validationContext: 'headers',
      });
    }
    const body = JSON.stringify(request.body ?? null);
    const userId = request.principal.userId;
    const stored = await service.begin(userId, key, request.method, request.url, body);
    if (stored) {
      return reply
        .code(stored.status)
        .header('content-type', stored.contentType)
        .header('idempotent-replayed', 'true')
        .send(stored.body);
    }
    claims.set(request, { userId, key, body });
  });
  app.addHook('onSend', async (request, reply, payload) => {
    const claim = claims.get(request);
    if (!claim) return payload;
    claims.delete(request);
    await service.finish(claim.userId, claim.key, request.method, request.url, claim.body, {
      status: reply.statusCode,
      contentType: String(reply.getHeader('content-type') ?? 'application/json'),
      body: typeof payload === 'string' ? payload : '',
    });
    return payload;
  });
  app.addHook('onResponse', async (request) => {
    const claim = claims.get(request); // a response that never reached onSend (aborted): free the key
    if (claim) service.release(claim.userId, claim.key);
  });
}
