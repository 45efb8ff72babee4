import { useEffect, useState } from 'preact/hooks';

/** The current time, re-rendered every `ms` (call timers). */
export const useNow = (ms = 1000): number => {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
};

/** Runs an async action, keeping its error and whether it is under way for the UI. */
export const useAction = <A extends unknown[], R>(fn: (...args: A) => Promise<R>) => {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const run = async (...args: A): Promise<R | undefined> => {
    setBusy(true);
    setError(null);
    try {
      return await fn(...args);
    } catch (e) {
      setError(e);
      return undefined;
    } finally {
      setBusy(false);
    }
  };
  return { run, busy, error, clear: () => setError(null) };
};
