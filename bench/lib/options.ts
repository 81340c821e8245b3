/** The benches' command lines: flags parsed strictly, `--help`, numbers checked, `--only` lists. */

import { type ParseArgsConfig, parseArgs } from 'node:util';

type FlagsConfig = NonNullable<ParseArgsConfig['options']>;

/** The values parseArgs gives for flags `T` in strict mode. */
type FlagValues<T extends FlagsConfig> = ReturnType<typeof parseArgs<{ options: T; strict: true }>>['values'];

/**
 * The flags' values, or undefined after `--help` printed `help` (the bench then does nothing). Unknown
 * flags throw.
 */
export function parseFlags<T extends FlagsConfig>(
  argv: string[],
  options: T,
  help: string,
): FlagValues<T> | undefined {
  const { values } = parseArgs({
    args: argv,
    options: { ...options, help: { type: 'boolean', default: false } },
    strict: true,
  });
  if ((values as { help?: boolean }).help) {
    process.stdout.write(help);
    return undefined;
  }
  return values as FlagValues<T>;
}

/** A number flag: `fallback` when absent; at least `min`, and an integer unless `integer` is false. */
export function numberOption(
  name: string,
  raw: string | undefined,
  fallback: number,
  { min = 1, integer = true }: { min?: number; integer?: boolean } = {},
): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    throw new Error(`--${name} must be ${integer ? 'an integer' : 'a number'} >= ${min}`);
  }
  return value;
}

/** A comma-separated flag (`--only a,b`) as its non-empty parts. */
export function listOption(raw: string | undefined): string[] {
  return (raw ?? '')
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');
}

/** Whether a case runs under `--only`: no names given, or its name contains one of them. */
export function wanted(only: string[], name: string): boolean {
  return only.length === 0 || only.some((part) => name.includes(part));
}
