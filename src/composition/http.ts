import { createServer, type Server } from 'node:http';
import { randomUUID } from 'node:crypto';
import express from 'express';
import { ApolloServer } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { WebSocketServer } from 'ws';
import { useServer } from 'graphql-ws/use/ws';
import { GraphQLError, type GraphQLSchema } from 'graphql';
import { createLoaders, type ApiServices, type GraphQLContext } from '../graphql/context';
import { toGraphQLError } from '../graphql/errors';
import { checkOperationLimits } from '../graphql/limits';
import { sharedSubscribe } from '../graphql/shared-subscribe';
import type { Logger } from './logger';
import type { Metrics } from './metrics';
import { nameActiveSpan, traceRequests } from '../observability/tracing';
import { scopePosition, withPositionScope } from '../app/consistency';
import { widgetCors } from './cors';
import type { Readiness } from './dependencies';
import { unavailableDependency, type Dependency } from '../ports/dependency';

export interface HttpOptions {
  host: string;
  port: number;
  maxBodyBytes: number;
  introspection: boolean;
  maxDepth: number;
  maxCost: number;
  /** Extra routes (webhooks, widget) mounted before /graphql. */
  routes?: (app: express.Express) => void;
  /** GET /readyz: each dependency's state, and why each failing one failed. */
  ready: () => Promise<Readiness>;
  /** A request failed because a dependency was unavailable (UNAVAILABLE): for the dependency metric. */
  onUnavailable?: (dependency: Dependency | null, error: unknown) => void;
  /** Whether some merchant allows its button on pages of this origin (the widget's CORS). */
  isWidgetOrigin: (origin: string) => boolean;
}

export interface RunningHttp {
  url: string;
  port: number;
  server: Server;
  stop(): Promise<void>;
}

/** The call an operation was about, for the log line: a `callId` variable, or the id a mutation returned. */
const callIdOf = (variables: Record<string, unknown> | undefined, body: unknown): string | undefined => {
  if (typeof variables?.callId === 'string') return variables.callId;
  const data = (body as { kind?: string; singleResult?: { data?: Record<string, unknown> | null } }).singleResult?.data;
  for (const v of Object.values(data ?? {})) {
    const o = v as { callId?: unknown; id?: unknown } | null;
    if (typeof o?.callId === 'string') return o.callId;
    if (typeof o?.id === 'string' && o.id.startsWith('c_')) return o.id;
  }
  return undefined;
};

const clientAddress = (req: { ip?: string; socket: { remoteAddress?: string } }) => req.ip ?? req.socket.remoteAddress ?? 'unknown';

/** The header a client sends a mutation's extensions.position back in, to read its own writes. */
export const POSITION_HEADER = 'x-webdial-position';

/** HTTP + WebSocket on one port: POST /graphql, graphql-ws on /graphql, health, readiness and metrics. */
export const startHttp = async (schema: GraphQLSchema, services: ApiServices, options: HttpOptions, logger: Logger, metrics: Metrics): Promise<RunningHttp> => {
  const app = express();
  app.disable('x-powered-by');
  const server = createServer(app);

  const contextFor = async (authorization: string | undefined, correlationId: string, address: string, origin?: string): Promise<GraphQLContext> => {
    const principal = await services.auth.authenticate(authorization);
    return { principal, correlationId, clientAddress: address, origin: origin ?? null, services, loaders: createLoaders(services.reads) };
  };

  const wss = new WebSocketServer({ server, path: '/graphql', maxPayload: options.maxBodyBytes });
  const ws = useServer<Record<string, unknown>>(
    {
      schema,
      // One execution per event and distinct operation, shared by the subscribers that asked for it.
      subscribe: sharedSubscribe as never,
      context: async (ctx) => {
        const auth = ctx.connectionParams?.authorization ?? ctx.connectionParams?.Authorization;
        try {
          return await contextFor(typeof auth === 'string' ? auth : undefined, randomUUID(), (ctx.extra as { address?: string }).address ?? 'unknown');
        } catch (e) {
          throw toGraphQLError(e);
        }
      },
      onSubscribe: async (_ctx, _id, payload) => {
        const problem = checkOperationLimits(schema, payload.query, payload.variables ?? {}, payload.operationName ?? undefined, options);
        if (problem) return [problem];
        // Read your writes: a subscription may ask to start once the read side reached a position.
        const min = (payload.extensions as { minPosition?: unknown } | undefined)?.minPosition;
        if (min !== undefined && min !== null) {
          try {
            await services.readProgress.waitFor(String(min));
          } catch (e) {
            return [toGraphQLError(e)];
          }
        }
        return undefined;
      },
      onConnect: (ctx) => {
        // The upgrade request is only needed for the client's address: keep that, let the request go
        // (a few KiB per connection, times ten thousand CRM screens).
        const extra = ctx.extra as { request?: unknown; address?: string };
        extra.address = clientAddress(extra.request as never);
        extra.request = undefined;
        metrics.openSubscriptions.inc(0);
        return true;
      },
      onOperation: () => {
        metrics.openSubscriptions.inc();
        return undefined;
      },
      onComplete: () => {
        metrics.openSubscriptions.dec();
      },
      onError: (_ctx, _id, _payload, errors) => {
        for (const e of errors) if (e.extensions?.code === 'INTERNAL_SERVER_ERROR') logger.error({ err: e.originalError ?? e }, 'subscription failed');
      },
    },
    wss,
  );

  const apollo = new ApolloServer<GraphQLContext>({
    schema,
    introspection: options.introspection,
    includeStacktraceInErrorResponses: false,
    formatError: (formatted, error) => {
      const original = (error as GraphQLError).originalError;
      if (formatted.extensions?.code === 'UNAVAILABLE') options.onUnavailable?.(unavailableDependency(original), original ?? error);
      if (formatted.extensions?.code === 'INTERNAL_SERVER_ERROR' || (!formatted.extensions?.code && original)) {
        logger.error({ err: original ?? error }, 'request failed');
        return { message: 'internal error', extensions: { code: 'INTERNAL_SERVER_ERROR' } };
      }
      return formatted;
    },
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer: server }),
      { async serverWillStart() { return { async drainServer() { await ws.dispose(); } }; } },
      {
        async requestDidStart(rc) {
          const started = process.hrtime.bigint();
          return {
            async didResolveOperation(r) {
              const kind = r.operation?.operation ?? 'query';
              nameActiveSpan(`${kind} ${r.operationName ?? r.operation?.name?.value ?? 'anonymous'}`, { 'graphql.operation.type': kind, 'graphql.operation.name': r.operationName ?? '' });
              const problem = checkOperationLimits(schema, r.request.query ?? '', r.request.variables ?? {}, r.request.operationName ?? undefined, options);
              if (problem) throw problem;
              // Read your writes: a query that names a position runs once every projection applied it.
              const min = r.request.http?.headers.get(POSITION_HEADER) ?? (r.request.extensions as { minPosition?: unknown } | undefined)?.minPosition;
              if (min !== undefined && min !== null && min !== '' && r.operation?.operation !== 'mutation') {
                try {
                  await services.readProgress.waitFor(String(min));
                } catch (e) {
                  const g = toGraphQLError(e);
                  throw new GraphQLError(g.message, { extensions: { ...g.extensions, http: { status: g.extensions.code === 'TIMEOUT' ? 503 : 400 } } });
                }
              }
            },
            async willSendResponse(r) {
              // The position this request's commands wrote (or answered from): send it back to read your writes.
              const position = scopePosition();
              if (position !== null && r.response.body.kind === 'single') {
                const single = r.response.body.singleResult;
                single.extensions = { ...single.extensions, position };
              }
              // Name by the operation, else by its root fields ("recordDownload", "call+calls").
              const roots = r.operation?.selectionSet.selections.flatMap((sel) => (sel.kind === 'Field' ? [sel.name.value] : [])) ?? [];
              const op = r.operationName ?? r.operation?.name?.value ?? (roots.length ? roots.join('+') : 'unknown');
              const outcome = r.errors?.length ? String(r.errors[0].extensions?.code ?? 'ERROR') : 'OK';
              const kind = r.operation?.operation ?? 'query';
              metrics.requests.inc({ operation: op, kind, outcome });
              nameActiveSpan(`${kind} ${op}`, { 'graphql.operation.name': op, 'webdial.outcome': outcome }, outcome === 'OK' ? undefined : outcome);
              metrics.latency.observe({ operation: op }, Number(process.hrtime.bigint() - started) / 1e9);
              const fields = { correlationId: rc.contextValue.correlationId, operation: op, kind, outcome, callId: callIdOf(r.request.variables, r.response.body), ms: Number(process.hrtime.bigint() - started) / 1e6 };
              if (r.errors?.length) logger.info(fields, `${op} refused: ${outcome}`);
              else if (kind === 'mutation') logger.info(fields, op);
              else logger.debug(fields, op);
            },
          };
        },
      },
    ],
  });
  await apollo.start();

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const r = await options.ready().catch((e: unknown): Readiness => ({ ready: false, checks: { ready: false }, reasons: { ready: String(e) }, degraded: {} }));
    res.status(r.ready ? 200 : 503).json({
      status: r.ready ? 'ready' : 'not ready',
      checks: r.checks,
      ...(r.ready ? {} : { reasons: r.reasons }),
      ...(Object.keys(r.degraded).length ? { degraded: r.degraded } : {}),
    });
  });
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  options.routes?.(app);
  app.use(
    '/graphql',
    traceRequests,
    widgetCors(options.isWidgetOrigin),
    // One position scope per request: the commands it runs note what they wrote (consistency.ts).
    (_req, _res, next) => withPositionScope(() => next()),
    express.json({ limit: options.maxBodyBytes }),
    expressMiddleware(apollo, {
      context: async ({ req }) => {
        const correlationId = (req.headers['x-correlation-id'] as string | undefined)?.slice(0, 100) ?? randomUUID();
        try {
          return await contextFor(req.headers.authorization, correlationId, clientAddress(req), req.headers.origin);
        } catch (e) {
          // A key that cannot be checked because the store is away is not a bad key: 503, not 401.
          const g = toGraphQLError(e);
          throw new GraphQLError(g.message, { extensions: { ...g.extensions, http: { status: g.extensions.code === 'UNAVAILABLE' ? 503 : 401 } }, originalError: g.originalError ?? undefined });
        }
      },
    }),
  );
  app.use((err: Error & { status?: number; type?: string }, _req: express.Request, res: express.Response, next: express.NextFunction) => {
    if (err.type === 'entity.too.large') {
      res.status(413).json({ errors: [{ message: `request body larger than ${options.maxBodyBytes} bytes`, extensions: { code: 'BAD_USER_INPUT' } }] });
      return;
    }
    if (err.status && err.status < 500) {
      res.status(err.status).json({ errors: [{ message: err.message, extensions: { code: 'BAD_USER_INPUT' } }] });
      return;
    }
    next(err);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://${options.host}:${port}/graphql`,
    port,
    server,
    stop: async () => {
      await apollo.stop();
      wss.close();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
};
