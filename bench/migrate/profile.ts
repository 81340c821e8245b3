/** In-process V8 CPU profiles (node:inspector) of one fleet pass, and where the samples fall. */

import { Session } from 'node:inspector/promises';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  /** Sampled non-idle milliseconds (without the profiler's own work). */
  busyMs: number;
  /** Self time by package (node_modules/<name>), tenantplane's src, bench code or V8/native bucket. */
  byOwner: Array<{ owner: string; ms: number }>;
  /** Self time by function, the heaviest first. */
  topFunctions: Array<{ fn: string; ms: number }>;
}

function ownerOf(url: string, functionName: string): string {
  const module = /node_modules\/((@[^/]+\/)?[^/]+)/.exec(url);
  if (module) return module[1]!;
  if (url.includes('/src/')) return 'tenantplane src';
  if (url.includes('/bench/')) return 'bench';
  if (url.startsWith('node:')) return 'node internals';
  // Native frames (socket writes, file handles, GC) have no url; their name says what they are.
  return url === '' ? `native: ${functionName || '(anonymous)'}` : url;
}

export function summarizeProfile(profile: CpuProfile, root: string): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const owners = new Map<string, number>();
  const functions = new Map<string, number>();
  let busyMs = 0;
  profile.samples.forEach((id, index) => {
    const frame = byId.get(id)?.callFrame;
    // '(idle)' is waiting; 'dispatch' without a url is the inspector session itself (Profiler.stop
    // serializing the profile in this thread), not the measured code.
    if (!frame || frame.functionName === '(idle)' || (frame.functionName === 'dispatch' && frame.url === ''))
      return;
    const ms = (profile.timeDeltas[index] ?? 0) / 1000;
    busyMs += ms;
    const owner = ownerOf(frame.url, frame.functionName);
    owners.set(owner, (owners.get(owner) ?? 0) + ms);
    const where =
      frame.url === '' ? '' : ` ${frame.url.replace(`file://${root}/`, '')}:${frame.lineNumber + 1}`;
    const fn = `${frame.functionName || '(anonymous)'}${where}`;
    functions.set(fn, (functions.get(fn) ?? 0) + ms);
  });
  const top = (map: Map<string, number>, count: number) =>
    [...map].sort((a, b) => b[1] - a[1]).slice(0, count);
  return {
    busyMs,
    byOwner: top(owners, 15).map(([owner, ms]) => ({ owner, ms })),
    topFunctions: top(functions, 25).map(([fn, ms]) => ({ fn, ms })),
  };
}

/** Runs `fn` under the V8 sampling profiler of this process. */
export async function profiled<T>(fn: () => Promise<T>): Promise<{ value: T; profile: CpuProfile }> {
  const session = new Session();
  session.connect();
  try {
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 250 });
    await session.post('Profiler.start');
    let value: T;
    try {
      value = await fn();
    } catch (error) {
      await session.post('Profiler.stop').catch(() => {});
      throw error;
    }
    const { profile } = await session.post('Profiler.stop');
    return { value, profile: profile as unknown as CpuProfile };
  } finally {
    session.disconnect();
  }
}
