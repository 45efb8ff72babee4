/**
 * HTTP and WebSocket transport for the pages: POST /graphql and graphql-ws on the same origin,
 * the key in the Authorization header (HTTP) or connectionParams (WebSocket). Only the public API.
 */
import { print } from '@0no-co/graphql.web';
import type { TadaDocumentNode } from 'gql.tada';
import { createClient, type Client } from 'graphql-ws/client';

/** An error the API answered with its stable code (extensions.code), or a transport failure. */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

interface Answer {
  data?: unknown;
  errors?: Array<{ message: string; extensions?: { code?: string } }>;
}

const fail = (a: Answer): never => {
  const e = a.errors![0]!;
  throw new ApiError(e.extensions?.code ?? 'ERROR', e.message);
};

export const request = async <R, V>(key: string, doc: TadaDocumentNode<R, V>, variables: V): Promise<R> => {
  let res: Response;
  try {
    res = await fetch('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ query: print(doc), variables }),
    });
  } catch {
    throw new ApiError('NETWORK', 'webdial cannot be reached: is the server running?');
  }
  let answer: Answer;
  try {
    answer = (await res.json()) as Answer;
  } catch {
    throw new ApiError(`HTTP_${res.status}`, `the server answered ${res.status} without a GraphQL result`);
  }
  if (answer.errors?.length) fail(answer);
  return answer.data as R;
};

/** One WebSocket per key and page, opened on the first subscription. */
export const liveClient = (key: string): Client =>
  createClient({
    url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/graphql`,
    connectionParams: { authorization: `Bearer ${key}` },
    lazy: true,
    retryAttempts: 5,
  });

export interface Handlers<R> {
  next(data: R): void;
  error(e: ApiError): void;
  complete?(): void;
}

/** Subscribes; returns the function that ends the subscription. */
export const subscribe = <R, V>(client: Client, doc: TadaDocumentNode<R, V>, variables: V, on: Handlers<R>): (() => void) =>
  client.subscribe<R>(
    { query: print(doc), variables: variables as Record<string, unknown> },
    {
      next: (r) => {
        if (r.errors?.length) {
          const e = r.errors[0]!;
          on.error(new ApiError(String(e.extensions?.code ?? 'ERROR'), e.message));
          return;
        }
        on.next(r.data as R);
      },
      error: (e) => {
        const first = Array.isArray(e) ? (e[0] as { message?: string; extensions?: { code?: string } } | undefined) : undefined;
        on.error(first ? new ApiError(first.extensions?.code ?? 'ERROR', first.message ?? 'subscription refused') : new ApiError('NETWORK', 'the live connection to webdial was lost'));
      },
      complete: () => on.complete?.(),
    },
  );
