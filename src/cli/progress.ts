/**
 * A one-line terminal progress bar with rate and ETA, redrawn at most 10 times a second. Off a TTY
 * (CI logs) it prints a plain line every 10 %.
 */
export const progressBar = (label: string, total: number, out: NodeJS.WriteStream = process.stderr) => {
  const started = Date.now();
  let done = 0;
  let lastDraw = 0;
  let lastDecile = -1;
  const draw = (final = false) => {
    const now = Date.now();
    if (!final && now - lastDraw < 100) return;
    lastDraw = now;
    const secs = Math.max((now - started) / 1000, 0.001);
    const rate = done / secs;
    const frac = total > 0 ? Math.min(done / total, 1) : 1;
    const eta = rate > 0 && total > done ? Math.ceil((total - done) / rate) : 0;
    if (out.isTTY) {
      const width = 30;
      const bar = '█'.repeat(Math.round(frac * width)).padEnd(width, '░');
      out.write(`\r${label} ${bar} ${done}/${total} ${(frac * 100).toFixed(0).padStart(3)}% ${rate.toFixed(0)}/s ETA ${eta}s `);
      if (final) out.write('\n');
    } else {
      const decile = Math.floor(frac * 10);
      if (decile !== lastDecile || final) {
        lastDecile = decile;
        out.write(`${label}: ${done}/${total} (${(frac * 100).toFixed(0)}%) ${rate.toFixed(0)}/s ETA ${eta}s\n`);
      }
    }
  };
  return {
    tick(n = 1) {
      done += n;
      draw();
    },
    done() {
      draw(true);
    },
  };
};
