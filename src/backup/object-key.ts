import { InvalidInputError } from '../errors/index.js';

const KEY_PATTERN = /^[a-z0-9._/-]+$/;
const MAX_KEY_BYTES = 900;

/**
 * Checks an object key before it becomes a file path or an S3 key: lowercase a-z, 0-9, '.', '_', '-' and
 * '/' only, relative, no empty segment, and no segment starting with '.' (which rules out '.' and '..'
 * and keeps the file store's hidden temporary files outside the key space).
 */
export function assertObjectKey(key: string): string {
  const problem = keyProblem(key);
  if (problem) {
    throw new InvalidInputError(
      `invalid object key ${JSON.stringify(key.slice(0, 100))}: ${problem}`,
      'invalid_object_key',
    );
  }
  return key;
}

/** A listing prefix: empty, or a key, or a key followed by '/'. */
export function assertObjectPrefix(prefix: string): string {
  if (prefix === '') return prefix;
  assertObjectKey(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix);
  return prefix;
}

function keyProblem(key: string): string | undefined {
  if (typeof key !== 'string' || key.length === 0) return 'it is empty';
  if (key.length > MAX_KEY_BYTES) return `it is longer than ${MAX_KEY_BYTES} characters`;
  if (!KEY_PATTERN.test(key)) return "use only a-z, 0-9, '.', '_', '-' and '/'";
  if (key.includes('..')) return "'..' is not allowed";
  for (const segment of key.split('/')) {
    if (segment === '') return 'absolute paths and empty segments are not allowed';
    if (segment.startsWith('.')) return "a segment may not start with '.'";
  }
  return undefined;
}
