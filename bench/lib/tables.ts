/** The plain text tables the benches print, and the targets they are held to. */

/** `value` with `digits` decimals, or `-` when it is not a finite number. */
export function fixed(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : '-';
}

/** Ratios with two decimals, one after another: `0.98 1.02 1.00`. */
export function ratiosText(ratios: number[]): string {
  return ratios.map((ratio) => fixed(ratio, 2)).join(' ');
}

/** A plain text table: the first column (and `leftColumns`) left-aligned, numbers right-aligned. */
export function table(header: string[], rows: string[][], leftColumns: number[] = []): string {
  const widths = header.map((cell, i) => Math.max(cell.length, ...rows.map((row) => row[i]!.length)));
  const left = new Set([0, ...leftColumns]);
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (left.has(i) ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)].join('\n');
}

export interface TargetCheck {
  name: string;
  value: number;
  comparison: '>=' | '<=' | '<' | '==';
  target: number;
  pass: boolean;
  note?: string;
}

/** A figure held to its target: passes when it is a finite number on the right side of the target. */
export function check(
  name: string,
  value: number,
  comparison: TargetCheck['comparison'],
  target: number,
  note?: string,
): TargetCheck {
  const pass =
    Number.isFinite(value) &&
    (comparison === '>='
      ? value >= target
      : comparison === '<='
        ? value <= target
        : comparison === '<'
          ? value < target
          : value === target);
  return { name, value, comparison, target, pass, ...(note ? { note } : {}) };
}

export function targetsTable(targets: TargetCheck[]): string {
  return table(
    ['target', 'value', 'wanted', 'result', 'note'],
    targets.map((target) => [
      target.name,
      fixed(target.value, target.comparison === '==' ? 0 : 3),
      `${target.comparison} ${target.target}`,
      target.pass ? 'PASS' : 'FAIL',
      target.note ?? '',
    ]),
    [4],
  );
}
