import { InvalidFieldError, type InvalidInputError } from '../errors/index.js';

/**
 * Deepest nesting accepted inside a field of a JSON body. Far below where JSON.stringify (a few thousand
 * levels) or PostgreSQL's jsonb parser (max_stack_depth) run out of stack, far above any real configuration.
 */
export const MAX_JSON_DEPTH = 64;

/** An unpaired UTF-16 surrogate: JSON can carry one (`"\ud800"`), Unicode text cannot. */
const UNPAIRED_SURROGATE = /\p{Cs}/u;

/**
 * Why PostgreSQL cannot store `text` as sent, or undefined when it can: U+0000 is refused by text and by
 * jsonb; an unpaired surrogate is refused by jsonb and would be stored as U+FFFD in text.
 */
export function unstorableText(text: string): string | undefined {
  if (text.includes('\u0000')) return 'U+0000 (NUL), which PostgreSQL cannot store';
  if (UNPAIRED_SURROGATE.test(text)) return 'an unpaired UTF-16 surrogate, which is not Unicode text';
  return undefined;
}

function invalid(field: string, message: string): InvalidInputError {
  return new InvalidFieldError(`${field} ${message}`, { field });
}

/**
 * Refuses (400 `invalid_field`, naming `field`) a value PostgreSQL would reject once it reaches SQL: a
 * string or object key anywhere inside it with U+0000 or an unpaired surrogate, or nesting deeper than
 * MAX_JSON_DEPTH. Walks at most MAX_JSON_DEPTH levels, so a hostile body cannot exhaust the stack here.
 */
export function assertStorable(field: string, value: unknown): void {
  const walk = (current: unknown, depth: number): void => {
    if (typeof current === 'string') {
      const problem = unstorableText(current);
      if (problem) {
        throw invalid(field, depth === 0 ? `contains ${problem}` : `holds a string that contains ${problem}`);
      }
      return;
    }
    if (current === null || typeof current !== 'object') return;
    if (depth >= MAX_JSON_DEPTH) throw invalid(field, `nests deeper than ${MAX_JSON_DEPTH} levels`);
    if (Array.isArray(current)) {
      for (const item of current) walk(item, depth + 1);
      return;
    }
    for (const [key, item] of Object.entries(current)) {
      const problem = unstorableText(key);
      if (problem) throw invalid(field, `holds a key that contains ${problem}`);
      walk(item, depth + 1);
    }
  };
  walk(value, 0);
}

/**
 * Checks every field of a parsed JSON body with assertStorable, before any route sees it. A body that is
 * not an object is left to the route, which refuses it with `invalid_body`.
 */
export function assertStorableBody(body: unknown): void {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return;
  for (const [field, value] of Object.entries(body)) assertStorable(field, value);
}
