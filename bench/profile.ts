import { readFileSync } from 'node:fs';

/** A V8 CPU profile (.cpuprofile, as written by `node --cpu-prof` or the inspector). */
interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }>;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  totalMs: number;
  /** Self time per function, highest first. */
  topFrames: Array<{ frame: string; selfMs: number; percent: number }>;
  /** Self time per package (node_modules/<pkg>), per project folder (src/<dir>), or node internals. */
  byArea: Array<{ area: string; selfMs: number; percent: number }>;
}

/** What a frame's URL belongs to: an npm package, a project folder, node itself, or V8 (GC, idle, program). */
export const areaOf = (url: string, functionName: string): string => {
  if (!url) return `(${functionName.replace(/[()]/g, '') || 'anonymous'})`;
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (url.startsWith('node:')) return 'node:' + url.slice(5).split('/')[0];
  const dist = url.indexOf('/dist/');
  if (dist >= 0) {
    const parts = url.slice(dist + 6).split('/');
    return parts.slice(0, Math.min(3, parts.length - 1)).join('/') || parts[0]!;
  }
  return url;
};

/** Sums self time per frame and per area of a CPU profile (a .cpuprofile file, or the profile itself). */
export const summariseProfile = (file: string | CpuProfile, top = 25): ProfileSummary => {
  const p = typeof file === 'string' ? (JSON.parse(readFileSync(file, 'utf8')) as CpuProfile) : file;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i]!, (self.get(p.samples[i]!) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000);
  let total = 0;
  const frames = new Map<string, number>();
  const areas = new Map<string, number>();
  for (const [id, ms] of self) {
    const n = byId.get(id)!;
    const { functionName, url, lineNumber } = n.callFrame;
    total += ms;
    const short = url ? url.replace(/^.*\/(node_modules|dist)\//, '$1/') : '';
    const frame = `${functionName || '(anonymous)'} ${short}${url ? `:${lineNumber + 1}` : ''}`.trim();
    frames.set(frame, (frames.get(frame) ?? 0) + ms);
    const area = areaOf(url, functionName);
    areas.set(area, (areas.get(area) ?? 0) + ms);
  }
  const rank = (m: Map<string, number>, key: 'frame' | 'area') =>
    [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, ms]) => ({ [key]: k, selfMs: Math.round(ms), percent: Math.round((1000 * ms) / total) / 10 }));
  return { totalMs: Math.round(total), topFrames: rank(frames, 'frame') as ProfileSummary['topFrames'], byArea: rank(areas, 'area') as ProfileSummary['byArea'] };
};

export const printProfile = (s: ProfileSummary, label: string): void => {
  console.log(`  CPU profile of ${label}: ${s.totalMs} ms sampled`);
  console.log('  by area (self time):');
  for (const a of s.byArea.slice(0, 15)) console.log(`    ${String(a.percent).padStart(5)} %  ${a.area}`);
  console.log('  top frames (self time):');
  for (const f of s.topFrames.slice(0, 20)) console.log(`    ${String(f.percent).padStart(5)} %  ${f.frame}`);
};

/**
 * Runs `work` under V8's sampling profiler (this process: the benchmark's server runs in it), writes
 * `<dir>/<name>.cpuprofile` (open it in Chrome DevTools or speedscope) and prints where the time went.
 */
export const profiled = async <T>(name: string, dir: string, work: () => Promise<T>): Promise<{ result: T; profile: string; summary: ProfileSummary }> => {
  const { Session } = await import('node:inspector/promises');
  const { mkdirSync, writeFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 500 });
  await session.post('Profiler.start');
  let result: T;
  let profile: CpuProfile;
  try {
    result = await work();
  } finally {
    ({ profile } = (await session.post('Profiler.stop')) as unknown as { profile: CpuProfile });
    session.disconnect();
  }
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.cpuprofile`);
  writeFileSync(file, JSON.stringify(profile));
  const summary = summariseProfile(profile, 30);
  printProfile(summary, name);
  console.log(`  profile written to ${file}`);
  return { result, profile: file, summary };
};

if (require.main === module) printProfile(summariseProfile(process.argv[2]!, 40), process.argv[2]!);
