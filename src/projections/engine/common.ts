export type ProjectionName = 'call-history' | 'billing' | 'crm-context' | 'gateway-ports' | 'merchants' | 'callbacks';
export const PROJECTION_NAMES: readonly ProjectionName[] = ['call-history', 'billing', 'crm-context', 'gateway-ports', 'merchants', 'callbacks'];

/** What the read side logs (pino-compatible subset). */
export interface Logger {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export const consoleLogger: Logger = {
  warn: (obj, msg) => console.warn(`[projections] WARN ${msg} ${JSON.stringify(obj)}`),
  error: (obj, msg) => console.error(`[projections] ERROR ${msg} ${JSON.stringify(obj)}`),
};
