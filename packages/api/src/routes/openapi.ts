import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { responses } from './responses.js';

export function openapiRoutes(app: FastifyInstance): void {
  app.get(
    '/openapi.json',
    {
      schema: {
        'x-permission': 'self',
        summary: 'This description (OpenAPI 3.1)',
        tags: ['appliance'],
        response: responses({ 200: Type.Object({}, { additionalProperties: true }) }),
      },
    },
    async () => app.swagger(),
  );
}
