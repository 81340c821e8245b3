import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

/** Instructions counted by callgrind, per function; JIT code named through the process's perf map. */
export type InstructionCounts = Map<string, number>;

/** V8's garbage collector: marking, sweeping, scavenging, evacuation and their helpers. */
const GARBAGE_COLLECTION =
  /Mark|Sweep|Scaveng|Evacuat|Heap::|RememberedSet|SlotSet|MinorGC|Compactor|MemoryChunk|Visitor|BodyDescriptor|Worklist|GlobalHandles|TypedSlot|SizeFromMap/;

export function isGarbageCollection(name: string): boolean {
  return GARBAGE_COLLECTION.test(name);
}

interface PerfMapEntry {
  start: number;
  end: number;
  name: string;
}

/**
 * node --perf-basic-prof writes where each piece of JIT code lives, `/tmp/perf-<pid>.map`, one line per
 * piece as it is made. The collector moves and frees code, so an address can be listed several times:
 * the last line that covers it is the code that was there at the end.
 */
function readPerfMap(pid: number): PerfMapEntry[] {
  const file = `/tmp/perf-${pid}.map`;
  if (!existsSync(file)) return [];
  const entries: PerfMapEntry[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const match = /^([0-9a-f]+) ([0-9a-f]+) (.*)$/.exec(line);
    if (!match) continue;
    const start = Number.parseInt(match[1]!, 16);
    entries.push({ start, end: start + Number.parseInt(match[2]!, 16), name: match[3]! });
  }
  return entries.reverse();
}

function jitName(entries: PerfMapEntry[], address: number): string {
  const entry = entries.find((candidate) => address >= candidate.start && address < candidate.end);
  // Tier markers (`*` optimised, `~` interpreted, `^` baseline) would split one function in several.
  return entry ? `JIT ${entry.name.replace(/^(\w+:)?[*~^+]?/, '')}` : 'JIT (unnamed)';
}

/** Self instructions per function from a callgrind output file of process `pid`. */
export function readCallgrind(file: string, pid: number): InstructionCounts {
  const text = execFileSync('callgrind_annotate', ['--inclusive=no', '--threshold=100', file], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  const perfMap = readPerfMap(pid);
  const counts: InstructionCounts = new Map();
  for (const line of text.split('\n')) {
    const match = /^\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*)$/.exec(line);
    if (!match || match[2]!.includes('PROGRAM TOTALS')) continue;
    const instructions = Number(match[1]!.replaceAll(',', ''));
    const symbol = match[2]!;
    const address = /^\?\?\?:0x([0-9a-f]+)/.exec(symbol);
    const name = address
      ? jitName(perfMap, Number.parseInt(address[1]!, 16))
      : symbol.replace(/^\?\?\?:/, '').replace(/\(.*$/, '');
    counts.set(name, (counts.get(name) ?? 0) + instructions);
  }
  return counts;
}

export function total(counts: InstructionCounts, which: (name: string) => boolean = () => true): number {
  let sum = 0;
  for (const [name, instructions] of counts) if (which(name)) sum += instructions;
  return sum;
}
