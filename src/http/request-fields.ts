import type { Request } from 'express';
import { InvalidInputError, UnknownFieldError } from '../errors/index.js';

/**
 * The request body as an object with only `allowed` fields and every `required` one present: 400
 * `invalid_body`, `unknown_field` or `missing_field` otherwise. An absent body is an empty object.
 */
export function bodyFields(
  req: Request,
  allowed: readonly string[],
  required: readonly string[] = [],
): Record<string, unknown> {
  const body: unknown = req.body ?? {};
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new InvalidInputError('request body must be a JSON object', 'invalid_body');
  }
  const unknown = Object.keys(body).filter((key) => !allowed.includes(key));
  if (unknown.length > 0) throw new UnknownFieldError(`unknown field ${unknown.join(', ')}`);
  const missing = required.filter((key) => (body as Record<string, unknown>)[key] === undefined);
  if (missing.length > 0) throw new InvalidInputError(`missing ${missing.join(', ')}`, 'missing_field');
  return body as Record<string, unknown>;
}
