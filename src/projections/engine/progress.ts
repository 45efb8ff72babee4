/** What the bar needs of a stream: process.stderr, or a fake in tests. */
export interface ProgressStream {
  write(chunk: string): boolean;
  isTTY?: boolean;
}

/** One line of the bar, pure: `label [#####.....] 50% 500/1000 250/s ETA 2s`. */
export const formatProgress = (label: string, done: number, total: number, elapsedMs: number, width = 24): string => {
  const frac = total > 0 ? Math.min(done / total, 1) : 1;
  const filled = Math.round(frac * width);
  const rate = elapsedMs > 0 ? (done * 1000) / elapsedMs : 0;
  const eta = rate > 0 && total > done ? formatSeconds((total - done) / rate) : done >= total ? 'done' : '?';
  return `${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.floor(frac * 100)).padStart(3)}% ${done}/${total} ${Math.round(rate)}/s ETA ${eta}`;
};

const formatSeconds = (s: number): string => {
  const secs = Math.ceil(s);
  return secs < 60 ? `${secs}s` : secs < 3600 ? `${Math.floor(secs / 60)}m${String(secs % 60).padStart(2, '0')}s` : `${Math.floor(secs / 3600)}h${String(Math.floor((secs % 3600) / 60)).padStart(2, '0')}m`;
};

/**
 * A terminal progress bar with rate and ETA. On a TTY it redraws one line (at most 10 times a
 * second); elsewhere (CI logs) it writes a line per 10 %. `set` fits rebuild's onProgress(done, total).
 */
export const progressBar = (label: string, total: number, stream: ProgressStream = process.stderr) => {
  const started = Date.now();
  let done = 0;
  let lastDraw = 0;
  let lastDecile = -1;
  const draw = (final: boolean) => {
    const now = Date.now();
    if (stream.isTTY) {
      if (!final && now - lastDraw < 100) return;
      lastDraw = now;
      stream.write(`\r${formatProgress(label, done, total, now - started)}${final ? '\n' : ''}`);
      return;
    }
    const decile = total > 0 ? Math.floor((done / total) * 10) : 10;
    if (decile === lastDecile && !final) return;
    lastDecile = decile;
    stream.write(`${formatProgress(label, done, total, now - started)}\n`);
  };
  return {
    tick(n = 1) {
      done += n;
      draw(false);
    },
    set(doneNow: number, totalNow = total) {
      done = doneNow;
      total = totalNow;
      draw(false);
    },
    done() {
      draw(true);
    },
  };
};
