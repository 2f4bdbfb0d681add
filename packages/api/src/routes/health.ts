import type { FastifyInstance } from 'fastify';
import { Health } from '../schemas.js';
import { VERSION } from '../version.js';
import { responses } from './responses.js';

export function healthRoutes(app: FastifyInstance): void {
  app.get(
    '/health',
    {
      schema: {
        'x-permission': 'none',
        summary: 'Is the appliance up (the one public route besides login)',
        tags: ['appliance'],
        security: [],
        response: responses({ 200: Health }),
      },
    },
    async () => ({ status: 'ok' as const, version: VERSION }),
  );
}
