/**
 * A strict reader of the Prometheus text exposition format (version 0.0.4), for tests that check a whole
 * `/metrics` page the way a scraper reads it: every sample with its labels unescaped, and the problems
 * that make Prometheus drop or reject samples listed rather than skipped over.
 */

export interface ExpositionSample {
  name: string;
  labels: Record<string, string>;
  value: number;
  /** 1-based line number on the page. */
  line: number;
}

export interface Exposition {
  samples: ExpositionSample[];
  /** `# TYPE` per metric family. */
  types: Map<string, string>;
  /**
   * What a scraper would not take as written: malformed lines, a second `# TYPE` or `# HELP` for a
   * family, a family whose samples are not in one group, and above all two samples with the same name
   * and label set (Prometheus keeps the first and drops the rest, so counts come out wrong).
   */
  problems: string[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const SUFFIXES: Record<string, string[]> = {
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['_sum', '_count'],
};

/** A sample's name and labels, label order ignored: what identifies a series on a page. */
export function seriesKey(name: string, labels: Record<string, string>): string {
  const sorted = Object.keys(labels)
    .sort()
    .map((key) => `${key}=${JSON.stringify(labels[key])}`);
  return `${name}{${sorted.join(',')}}`;
}

/** Reads `name{a="x",b="y"} value [timestamp]`; throws with the reason when the line is malformed. */
function readSample(line: string): { name: string; labels: Record<string, string>; value: number } {
  const name = METRIC_NAME.exec(line)?.[0];
  if (!name) throw new Error('no metric name');
  let at = name.length;
  const labels: Record<string, string> = {};
  if (line[at] === '{') {
    at += 1;
    while (line[at] !== '}') {
      const label = LABEL_NAME.exec(line.slice(at))?.[0];
      if (!label) throw new Error(`bad label name at column ${at + 1}`);
      at += label.length;
      if (line.slice(at, at + 2) !== '="') throw new Error(`expected =" after ${label}`);
      at += 2;
      let value = '';
      for (;;) {
        const char = line[at];
        if (char === undefined) throw new Error(`unterminated value of ${label}`);
        at += 1;
        if (char === '"') break;
        if (char === '\\') {
          const escaped = line[at];
          at += 1;
          if (escaped === '\\') value += '\\';
          else if (escaped === '"') value += '"';
          else if (escaped === 'n') value += '\n';
          else throw new Error(`bad escape \\${escaped ?? ''} in ${label}`);
        } else value += char;
      }
      if (Object.hasOwn(labels, label)) throw new Error(`label ${label} twice`);
      labels[label] = value;
      if (line[at] === ',') at += 1;
      else if (line[at] !== '}') throw new Error(`expected , or } after ${label}`);
    }
    at += 1;
  }
  const rest = line.slice(at);
  const match = /^ +(\S+)(?: +(-?\d+))? *$/.exec(rest);
  if (!match) throw new Error('expected a value (and optional timestamp) after the labels');
  const text = match[1]!;
  const value = text === '+Inf' ? Infinity : text === '-Inf' ? -Infinity : Number(text);
  if (Number.isNaN(value) && text !== 'NaN') throw new Error(`bad value ${text}`);
  return { name, labels, value };
}

/** Parses a whole page; problems are collected, never thrown. */
export function parseExposition(text: string): Exposition {
  const samples: ExpositionSample[] = [];
  const types = new Map<string, string>();
  const helps = new Set<string>();
  const problems: string[] = [];
  const seen = new Map<string, number>();
  const closedFamilies = new Set<string>();
  let currentFamily: string | undefined;

  const familyOf = (name: string): string => {
    for (const [family, type] of types) {
      if (name === family) return family;
      for (const suffix of SUFFIXES[type] ?? []) if (name === family + suffix) return family;
    }
    return name;
  };
  const enter = (family: string, lineNumber: number) => {
    if (family === currentFamily) return;
    if (currentFamily !== undefined) closedFamilies.add(currentFamily);
    if (closedFamilies.has(family))
      problems.push(`line ${lineNumber}: ${family} continues after another family`);
    currentFamily = family;
  };

  text.split('\n').forEach((raw, index) => {
    const lineNumber = index + 1;
    const line = raw.trim();
    if (line === '') return;
    if (line.startsWith('#')) {
      const comment = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s+(.*))?$/.exec(line);
      if (!comment) return; // any other comment is free text
      const [, kind, family, rest] = comment as unknown as [string, string, string, string | undefined];
      if (!METRIC_NAME.test(family)) problems.push(`line ${lineNumber}: bad metric name ${family}`);
      enter(family, lineNumber);
      if (kind === 'HELP') {
        if (helps.has(family)) problems.push(`line ${lineNumber}: second HELP for ${family}`);
        helps.add(family);
      } else {
        if (types.has(family)) problems.push(`line ${lineNumber}: second TYPE for ${family}`);
        if (samples.some((sample) => familyOf(sample.name) === family))
          problems.push(`line ${lineNumber}: TYPE for ${family} after its samples`);
        types.set(family, (rest ?? '').trim());
      }
      return;
    }
    let sample: ReturnType<typeof readSample>;
    try {
      sample = readSample(line);
    } catch (error) {
      problems.push(`line ${lineNumber}: ${(error as Error).message}: ${line}`);
      return;
    }
    enter(familyOf(sample.name), lineNumber);
    const key = seriesKey(sample.name, sample.labels);
    const first = seen.get(key);
    if (first !== undefined) problems.push(`line ${lineNumber}: duplicate of line ${first}: ${key}`);
    else seen.set(key, lineNumber);
    samples.push({ ...sample, line: lineNumber });
  });
  return { samples, types, problems };
}
