import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';
import type { FastifyInstance } from 'fastify';

/**
 * Requests are validated by TypeBox against the schemas the OpenAPI description is made from. Bodies are taken as
 * sent: a wrong type is refused, never coerced ("5" is not 5). Query strings, paths and headers are text by
 * nature, so their numbers and booleans are converted first. Defaults are applied to all. A POST without a body
 * is an empty object, so that routes whose fields are all optional need none.
 */
export function installValidation(app: FastifyInstance): void {
  app.setValidatorCompiler(({ schema, httpPart }) => {
    const check = TypeCompiler.Compile(schema as TSchema);
    const textual = httpPart !== 'body';
    return (input: unknown) => {
      let value = input === null && httpPart === 'body' ? {} : input;
      if (textual) value = Value.Convert(schema as TSchema, value);
      value = Value.Default(schema as TSchema, value);
      if (check.Check(value)) return { value };
      const errors = [...check.Errors(value)].slice(0, 10).map((e) => ({
        keyword: String(e.type),
        schemaPath: e.path,
        params: {},
        instancePath: e.path,
        message: e.message
          .replace(/^Expected /, 'must be ')
          .replace(/^Unexpected property$/, 'is not a known field'),
      }));
      return { error: errors };
    };
  });
}
