/** Money in minor units of an ISO 4217 currency, e.g. 1234 USD → "$12.34". */
export const money = (minor: number, currency: string): string => {
  try {
    const f = new Intl.NumberFormat(undefined, { style: 'currency', currency });
    const digits = f.resolvedOptions().maximumFractionDigits ?? 2;
    return f.format(minor / 10 ** digits);
  } catch {
    return `${minor} ${currency} (minor units)`;
  }
};

/** Seconds as m:ss, or h:mm:ss past an hour. */
export const duration = (seconds: number): string => {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
};

export const dateTime = (iso: string | null | undefined): string => (iso ? new Date(iso).toLocaleString() : '—');
export const time = (iso: string | null | undefined): string => (iso ? new Date(iso).toLocaleTimeString() : '—');
export const percent = (x: number): string => `${(x * 100).toFixed(x === 0 || x === 1 ? 0 : 1)} %`;

/** An ISO instant as the value of <input type="datetime-local"> (local time, minutes). */
export const toLocalInput = (iso: string): string => {
  const d = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
};
/** The value of <input type="datetime-local"> (or type="date") as an ISO instant; null when empty or invalid. */
export const fromLocalInput = (value: string): string | null => {
  if (!value) return null;
  const t = new Date(value.length === 10 ? `${value}T00:00` : value).getTime();
  return Number.isFinite(t) ? new Date(t).toISOString() : null;
};
