import { InvalidFieldError, InvalidInputError, UnknownFieldError } from '../../errors/index.js';
import { assertStorable } from '../json-input.js';

/** How one writable column of a resource of the sample application (application-api.ts) is checked. */
export interface FieldSpec {
  kind: 'text' | 'status' | 'url' | 'object';
  required: boolean;
  /** Longest accepted text, or largest JSON size in bytes for objects. */
  max: number;
}

export type FieldSpecs = Record<string, FieldSpec>;

const STATUS = /^[a-z][a-z0-9_-]{0,39}$/;

function checkField(name: string, spec: FieldSpec, value: unknown): unknown {
  // Before anything else, so that JSON.stringify below never meets an object nested beyond its stack.
  assertStorable(name, value);
  switch (spec.kind) {
    case 'text':
      if (typeof value !== 'string' || value.trim() === '' || value.length > spec.max) {
        throw new InvalidFieldError(`${name} must be a non-empty string of at most ${spec.max} characters`, {
          field: name,
        });
      }
      return value;
    case 'status':
      if (typeof value !== 'string' || !STATUS.test(value)) {
        throw new InvalidFieldError(`${name} must be a lowercase word like "ready" (a-z, 0-9, _ and -)`, {
          field: name,
        });
      }
      return value;
    case 'url':
      if (value === null) return null;
      if (
        typeof value !== 'string' ||
        value.length > spec.max ||
        !/^https?:\/\/\S+$/.test(value) ||
        !URL.canParse(value)
      ) {
        throw new InvalidFieldError(`${name} must be an http(s) URL or null`, {
          field: name,
        });
      }
      return value;
    case 'object': {
      const size =
        value === null || typeof value !== 'object' || Array.isArray(value)
          ? -1
          : JSON.stringify(value).length;
      if (size < 0 || size > spec.max) {
        throw new InvalidFieldError(`${name} must be a JSON object of at most ${spec.max} bytes`, {
          field: name,
        });
      }
      return JSON.stringify(value);
    }
  }
}

/** Validates a create (`partial` false) or update (`partial` true) body against the resource's fields. */
export function checkBody(body: unknown, specs: FieldSpecs, partial: boolean): Record<string, unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new InvalidInputError('request body must be a JSON object', 'invalid_body');
  }
  const input = body as Record<string, unknown>;
  const unknown = Object.keys(input).filter((key) => !Object.hasOwn(specs, key));
  if (unknown.length > 0) {
    throw new UnknownFieldError(`unknown field ${unknown.map((key) => JSON.stringify(key)).join(', ')}`);
  }
  const values: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(specs)) {
    if (input[name] === undefined) {
      if (spec.required && !partial) {
        throw new InvalidInputError(`${name} is required`, 'missing_field', { field: name });
      }
      continue;
    }
    values[name] = checkField(name, spec, input[name]);
  }
  if (partial && Object.keys(values).length === 0) {
    throw new InvalidInputError('nothing to update', 'empty_update');
  }
  return values;
}
