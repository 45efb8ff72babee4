import type { Logger } from './logger';
import type { Metrics } from './metrics';

/**
 * The last-resort policy for errors nothing handled (docs/security.md). Typed lint forbids floating
 * promises, so these are bugs; but a bug must not end the service silently, nor let one client end
 * it for everyone:
 * - `unhandledRejection`: logged at error with the reason, counted in
 *   `webdial_unhandled_errors_total{kind="unhandledRejection"}`, and the process goes on (Node's
 *   default would exit, which made one anonymous request a denial of service).
 * - `uncaughtException`: the process's state is unknown after one, so it is logged at fatal, counted,
 *   and the server stops as on SIGTERM (in-flight requests drain) and exits 1 for its supervisor to
 *   restart it: never a silent death, never a zombie.
 * Returns a function that removes the handlers.
 */
export const installLastResort = (
  logger: Logger,
  metrics: Metrics,
  stop: () => Promise<void>,
  exit: (code: number) => void = (c) => process.exit(c),
  target: Pick<NodeJS.EventEmitter, 'on' | 'off'> = process,
): (() => void) => {
  const onRejection = (reason: unknown) => {
    metrics.unhandledErrors.inc({ kind: 'unhandledRejection' });
    logger.error({ err: reason }, 'unhandled promise rejection: a bug, logged and counted; the server goes on');
  };
  let stopping = false;
  const onException = (err: Error, origin: string) => {
    metrics.unhandledErrors.inc({ kind: 'uncaughtException' });
    logger.fatal({ err, origin }, 'uncaught exception: stopping the server (exit 1) for its supervisor to restart it');
    if (stopping) return;
    stopping = true;
    const timer = setTimeout(() => exit(1), 10_000);
    timer.unref();
    stop()
      .catch((e: unknown) => logger.error({ err: e }, 'shutdown after an uncaught exception failed'))
      .finally(() => exit(1));
  };
  target.on('unhandledRejection', onRejection);
  target.on('uncaughtException', onException);
  return () => {
    target.off('unhandledRejection', onRejection);
    target.off('uncaughtException', onException);
  };
};
