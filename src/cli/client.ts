/** A minimal GraphQL-over-HTTP client for the CLI, the demo driver, tests and benchmarks. */
export interface GqlError {
  message: string;
  extensions?: { code?: string; [k: string]: unknown };
}

export class GqlRequestError extends Error {
  constructor(readonly errors: GqlError[]) {
    super(errors.map((e) => `${e.extensions?.code ?? 'ERROR'}: ${e.message}`).join('; '));
    this.name = 'GqlRequestError';
  }
  get code(): string | undefined {
    return this.errors[0]?.extensions?.code;
  }
}

export const gqlRaw = async (url: string, query: string, variables: Record<string, unknown> = {}, key?: string): Promise<{ data?: Record<string, unknown> | null; errors?: GqlError[]; status: number }> => {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const text = await res.text();
  try {
    return { ...(JSON.parse(text) as object), status: res.status };
  } catch {
    return { errors: [{ message: text.slice(0, 200), extensions: { code: `HTTP_${res.status}` } }], status: res.status };
  }
};

/** Resolves to `data`, or throws GqlRequestError carrying the contract's error codes. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the CLI reads its own documents' answers
export const gql = async <T = Record<string, any>>(url: string, query: string, variables: Record<string, unknown> = {}, key?: string): Promise<T> => {
  const r = await gqlRaw(url, query, variables, key);
  if (r.errors?.length) throw new GqlRequestError(r.errors);
  return r.data as T;
};
