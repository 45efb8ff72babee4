import { createServer, type Server } from 'node:http';
import { randomUUID } from 'node:crypto';
import express from 'express';
import { ApolloServer } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { WebSocketServer, type WebSocket } from 'ws';
import proxyAddr from 'proxy-addr';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { useServer } from 'graphql-ws/use/ws';
import { GraphQLError, Kind, type GraphQLSchema, type OperationDefinitionNode } from 'graphql';
import { createLoaders, type ApiServices, type GraphQLContext } from '../graphql/context';
import { toGraphQLError } from '../graphql/errors';
import { BoundedDocumentStore, checkOperationLimits, MAX_TOKENS } from '../graphql/limits';
import type { Principal } from '../app/auth';
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
  /** This instance in the cluster, for /readyz: its name and the cluster jobs it owns now (`roles`). */
  cluster?: () => { instance: string; roles: string[] };
  /** A request failed because a dependency was unavailable (UNAVAILABLE): for the dependency metric. */
  onUnavailable?: (dependency: Dependency | null, error: unknown) => void;
  /** Whether some merchant allows its button on pages of this origin (the widget's CORS). */
  isWidgetOrigin: (origin: string) => boolean;
  /**
   * Which proxies' X-Forwarded-For to believe for the client's address (WEBDIAL_TRUST_PROXY):
   * false (none: the socket's address), a hop count, or addresses/CIDRs. Express's `trust proxy`.
   */
  trustProxy: false | number | string[];
  /** WebSocket bounds: open connections per client address, and operations per connection. */
  ws: { maxConnectionsPerAddress: number; maxSubscriptionsPerConnection: number };
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

/**
 * The GraphQL operation's label in metrics: its root field, when the schema has it, else `other`
 * (and `multiple` for several distinct roots). Never the client's operation name, which is free text:
 * the label set stays as small as the schema, whatever clients send.
 */
export const operationLabel = (schema: GraphQLSchema, kind: string, roots: readonly string[]): string => {
  const type = kind === 'mutation' ? schema.getMutationType() : kind === 'subscription' ? schema.getSubscriptionType() : schema.getQueryType();
  const known = new Set(roots.filter((r) => r !== '__typename' && type?.getFields()[r] !== undefined));
  if (known.size === 0) return 'other';
  return known.size === 1 ? [...known][0] : 'multiple';
};

/** Close codes of the WebSocket transport beyond graphql-ws's own. */
export const WS_CLOSE = { unauthenticated: 4401, revoked: 4403 } as const;

/** The header a client sends a mutation's extensions.position back in, to read its own writes. */
export const POSITION_HEADER = 'x-webdial-position';

/** HTTP + WebSocket on one port: POST /graphql, graphql-ws on /graphql, health, readiness and metrics. */
export const startHttp = async (schema: GraphQLSchema, services: ApiServices, options: HttpOptions, logger: Logger, metrics: Metrics): Promise<RunningHttp> => {
  const app = express();
  app.disable('x-powered-by');
  // req.ip: the client's address, through the proxies trusted (none by default: the socket's address).
  app.set('trust proxy', options.trustProxy);
  // Express's own compiled rule (hop count or addresses), so the WebSocket upgrade, which never
  // passes through Express, finds the same client as req.ip.
  const trust = app.get('trust proxy fn') as (address: string, hop: number) => boolean;
  const clientAddress = (req: IncomingMessage): string => proxyAddr(req, trust) || 'unknown';
  const server = createServer(app);

  const contextOf = (principal: Principal, correlationId: string, address: string, origin?: string): GraphQLContext => ({
    principal,
    correlationId,
    clientAddress: address,
    origin: origin ?? null,
    services,
    loaders: createLoaders(services.reads),
  });

  // ---- WebSocket: bounded per address and per connection, authenticated once, revocable -----------
  /** What a connection keeps: its client's address, its principal, its socket. */
  interface Connection {
    address: string;
    principal: Principal;
    socket: WebSocket;
  }
  const perAddress = new Map<string, number>();
  const byKey = new Map<string, Set<WebSocket>>();
  const wss = new WebSocketServer({ noServer: true, maxPayload: options.maxBodyBytes });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const refuse = (status: string, message: string) => {
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(message)}\r\n\r\n${message}`);
    };
    if (new URL(req.url ?? '/', 'http://x').pathname !== '/graphql') return refuse('404 Not Found', 'WebSocket endpoint is /graphql');
    const address = clientAddress(req);
    if ((perAddress.get(address) ?? 0) >= options.ws.maxConnectionsPerAddress) {
      metrics.refusedConnections.inc({ reason: 'per-address' });
      return refuse('429 Too Many Requests', `at most ${options.ws.maxConnectionsPerAddress} WebSocket connections per client address`);
    }
    perAddress.set(address, (perAddress.get(address) ?? 0) + 1);
    const release = () => {
      const n = (perAddress.get(address) ?? 1) - 1;
      if (n <= 0) perAddress.delete(address);
      else perAddress.set(address, n);
    };
    socket.once('close', release);
    wss.handleUpgrade(req, socket, head, (client) => {
      // The upgrade request is not kept, only its client's address (a few KiB per connection, times
      // ten thousand CRM screens).
      wss.emit('connection', client, { __address: address });
    });
  });
  const connectionOf = (extra: unknown): Connection => extra as Connection;
  const ws = useServer<Record<string, unknown>>(
    {
      schema,
      // One execution per event and distinct operation, shared by the subscribers that asked for it.
      subscribe: sharedSubscribe as never,
      context: (ctx) => {
        const c = connectionOf(ctx.extra);
        return contextOf(c.principal, randomUUID(), c.address);
      },
      onSubscribe: async (ctx, _id, payload) => {
        const c = connectionOf(ctx.extra);
        if (Object.keys(ctx.subscriptions).length > options.ws.maxSubscriptionsPerConnection)
          return [new GraphQLError(`at most ${options.ws.maxSubscriptionsPerConnection} operations at a time on one connection`, { extensions: { code: 'RATE_LIMITED', limit: 'subscriptions', max: options.ws.maxSubscriptionsPerConnection } })];
        try {
          // Each operation started over a socket counts against its client's subscription budget.
          await services.limiter.hit('subscribe-per-client', c.address);
        } catch (e) {
          return [toGraphQLError(e)];
        }
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
      onConnect: async (ctx) => {
        const extra = ctx.extra as { request?: { __address?: string }; socket: WebSocket } & Partial<Connection>;
        extra.address = extra.request?.__address ?? 'unknown';
        extra.request = undefined;
        const auth = ctx.connectionParams?.authorization ?? ctx.connectionParams?.Authorization;
        try {
          extra.principal = await services.auth.authenticate(typeof auth === 'string' ? auth : undefined);
        } catch (e) {
          const g = toGraphQLError(e);
          // A made-up or revoked key: 4401 before any ack. A store that cannot be asked: 1013, try again.
          if (g.extensions.code === 'UNAUTHENTICATED') extra.socket.close(WS_CLOSE.unauthenticated, 'Unauthorized: unknown or revoked API key');
          else extra.socket.close(1013, `Try again later: ${g.message}`.slice(0, 120));
          return false;
        }
        if (extra.principal.kind === 'key') {
          const { keyId } = extra.principal;
          const set = byKey.get(keyId) ?? new Set<WebSocket>();
          set.add(extra.socket);
          byKey.set(keyId, set);
          extra.socket.once('close', () => {
            set.delete(extra.socket);
            if (set.size === 0 && byKey.get(keyId) === set) byKey.delete(keyId);
          });
        }
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
      // The contract's codes on WebSocket too: what a `subscribe` or a resolver threw (a DomainError
      // located by graphql-js) is mapped as on HTTP, by errors.ts, and HTTP's status hint dropped.
      onNext: (_ctx, _id, _payload, _args, result) => {
        if (!result.errors?.length) return undefined;
        return { ...result, errors: result.errors.map((e) => contractError(e).toJSON()) };
      },
      onError: (_ctx, _id, _payload, errors) => {
        for (const e of errors) if (e.extensions?.code === 'INTERNAL_SERVER_ERROR') logger.error({ err: e.originalError ?? e }, 'subscription failed');
      },
    },
    wss,
  );

  // Revocation reaches every instance through the store: each one's hub reads ApiKeyRevoked, forgets
  // the key and closes its connections with 4403, within the hub's delay (milliseconds).
  const revocations = services.hub.iterate(
    (e) => e.type === 'ApiKeyRevoked',
    (e) => (e.data as { keyId?: unknown }).keyId,
    null,
  );
  const watchRevocations = (async () => {
    for await (const keyId of revocations) {
      if (typeof keyId !== 'string') continue;
      services.auth.forget(keyId);
      for (const socket of byKey.get(keyId) ?? []) socket.close(WS_CLOSE.revoked, 'Forbidden: API key revoked');
      byKey.delete(keyId);
    }
  })().catch((err: unknown) => logger.error({ err }, 'revocation watcher stopped'));

  const apollo = new ApolloServer<GraphQLContext>({
    schema,
    introspection: options.introspection,
    includeStacktraceInErrorResponses: false,
    // Bounded: a document is parsed with at most MAX_TOKENS tokens, and only small ones are kept.
    parseOptions: { maxTokens: MAX_TOKENS },
    documentStore: new BoundedDocumentStore(),
    // Automatic persisted queries would let any client store documents in the server: not used.
    persistedQueries: false,
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
              const kind: string = r.operation?.operation ?? 'query';
              // Spans are named as OpenTelemetry's GraphQL conventions say (`mutation Download`), the
              // client's name cut to 64 characters; metrics never use it (a label set must stay small).
              nameActiveSpan(`${kind} ${spanOperation(r.operationName, schema, kind, r.operation)}`, { 'graphql.operation.type': kind, 'graphql.operation.name': (r.operationName ?? '').slice(0, 100) });
              // Apollo's parser stopped at MAX_TOKENS already (GRAPHQL_PARSE_FAILED, 400); depth and
              // cost are refused here, 400 too, before anything runs. Only numbers are cached.
              const problem = checkOperationLimits(schema, r.source ?? '', r.request.variables ?? {}, r.request.operationName ?? undefined, options);
              if (problem) throw problem;
              // Read your writes: a query that names a position runs once every projection applied it.
              const min = r.request.http?.headers.get(POSITION_HEADER) ?? (r.request.extensions as { minPosition?: unknown } | undefined)?.minPosition;
              if (min !== undefined && min !== null && min !== '' && kind !== 'mutation') {
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
              // Labelled by the schema's root field, never by the client's free-text operation name.
              const kind: string = r.operation?.operation ?? 'query';
              const op = operationLabel(schema, kind, rootsOf(r.operation));
              const outcome = r.errors?.length ? outcomeLabel(r.errors[0].extensions?.code) : 'OK';
              metrics.requests.inc({ operation: op, kind, outcome });
              nameActiveSpan(`${kind} ${spanOperation(r.operationName, schema, kind, r.operation)}`, { 'webdial.operation': op, 'webdial.outcome': outcome }, outcome === 'OK' ? undefined : outcome);
              metrics.latency.observe({ operation: op }, Number(process.hrtime.bigint() - started) / 1e9);
              const fields = { correlationId: rc.contextValue.correlationId, operation: op, operationName: r.operationName?.slice(0, 100), kind, outcome, callId: callIdOf(r.request.variables, r.response.body), ms: Number(process.hrtime.bigint() - started) / 1e6 };
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
      ...(options.cluster ? options.cluster() : {}),
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
          return contextOf(await services.auth.authenticate(req.headers.authorization), correlationId, clientAddress(req), req.headers.origin);
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
      await revocations.return?.();
      await watchRevocations;
      await apollo.stop();
      wss.close();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
};

/** The root fields an operation selects (fragments on the root are rare; they count as none). */
const rootsOf = (operation: OperationDefinitionNode | null | undefined): string[] =>
  operation?.selectionSet.selections.flatMap((sel) => (sel.kind === Kind.FIELD ? [sel.name.value] : [])) ?? [];

/** The outcome label: one of the contract's codes (a bounded set), else ERROR. */
const OUTCOMES = new Set(['BAD_USER_INPUT', 'UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND', 'CONFLICT', 'RATE_LIMITED', 'NO_ROUTE', 'NO_PORT', 'LIMIT_EXCEEDED', 'UNAVAILABLE', 'TIMEOUT', 'INTERNAL_SERVER_ERROR', 'GRAPHQL_VALIDATION_FAILED', 'GRAPHQL_PARSE_FAILED', 'BAD_REQUEST', 'OPERATION_RESOLUTION_FAILURE']);
const outcomeLabel = (code: unknown): string => (typeof code === 'string' && OUTCOMES.has(code) ? code : 'ERROR');

/** A located error as the contract has it: its original error mapped (errors.ts), its path kept, no HTTP hint. */
const contractError = (e: GraphQLError): GraphQLError => {
  const original = e.originalError;
  const mapped = original && !(original instanceof GraphQLError) ? toGraphQLError(original) : e;
  const { http: _http, ...extensions } = mapped.extensions as Record<string, unknown>;
  return new GraphQLError(mapped.message, { path: e.path, extensions, originalError: original });
};

const spanOperation = (name: string | null | undefined, schema: GraphQLSchema, kind: string, operation: OperationDefinitionNode | null | undefined): string =>
  name ? name.slice(0, 64) : operationLabel(schema, kind, rootsOf(operation));
