import { badInput } from '../../domain/shared/errors';

/**
 * Pure value helpers of the read database, shared by the read side's views (no I/O: the command side
 * folds them too), its queries and the webhook outbox: how stored values are read back, and how
 * instants are stored.
 */

/** Postgres returns bigint and numeric aggregates as strings; SQLite returns numbers. */
export const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));
export const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
export const strOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));
export const jsonOrNull = <T = unknown>(v: unknown): T | null =>
  v === null || v === undefined ? null : (JSON.parse(String(v)) as T);

/** Instants are stored as normalised ISO-8601 UTC text (`2026-11-23T19:50:00.000Z`): sortable as strings. */
const NORMAL_ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
export const iso = (at: string | Date): string => (typeof at === 'string' && NORMAL_ISO.test(at) ? at : new Date(at).toISOString());

/** `iso` for caller input: a value that is not an instant is BAD_USER_INPUT naming the field. */
export const isoInput = (at: string | Date, field: string): string => {
  const ms = at instanceof Date ? at.getTime() : Date.parse(at);
  if (Number.isNaN(ms)) throw badInput(`${field} must be an ISO-8601 instant, got "${String(at)}"`, { field });
  return new Date(ms).toISOString();
};
