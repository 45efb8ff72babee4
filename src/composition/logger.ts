import pino from 'pino';

export type Logger = pino.Logger;

/** Structured JSON logs on stderr (stdout stays for what the CLI prints to people). */
export const createLogger = (level: string, name = 'webdial'): Logger =>
  pino({ name, level, base: { pid: process.pid } }, pino.destination(2));
