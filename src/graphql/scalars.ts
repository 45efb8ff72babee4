import { GraphQLError, GraphQLScalarType, Kind, type ValueNode } from 'graphql';

const invalid = (message: string) => new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT' } });

/** ISO-8601 with offset. Values travel inside webdial as ISO strings; Date objects are accepted too. */
export const DateTimeScalar = new GraphQLScalarType<string, string>({
  name: 'DateTime',
  description: 'ISO-8601 date-time with offset, e.g. 2026-11-23T19:50:00Z',
  serialize: (value) => {
    const d = value instanceof Date ? value : new Date(String(value));
    if (Number.isNaN(d.getTime())) throw new GraphQLError(`DateTime cannot represent ${String(value)}`);
    return d.toISOString();
  },
  parseValue: (value) => parseDateTime(value),
  parseLiteral: (ast) => {
    if (ast.kind !== Kind.STRING) throw invalid('DateTime must be a string');
    return parseDateTime(ast.value);
  },
});

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;
const parseDateTime = (value: unknown): string => {
  if (typeof value !== 'string' || !ISO.test(value)) throw invalid(`DateTime must be ISO-8601 with an offset, got ${JSON.stringify(value)}`);
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) throw invalid(`DateTime is not a valid instant: ${value}`);
  return d.toISOString();
};

/** Integer up to 2^53-1 carried as a JSON number (money in minor units). */
export const LongScalar = new GraphQLScalarType<number, number>({
  name: 'Long',
  description: 'Integer, JSON number, up to 2^53-1 (money in minor units)',
  serialize: (value) => {
    const n = typeof value === 'bigint' ? Number(value) : Number(value);
    if (!Number.isSafeInteger(n)) throw new GraphQLError(`Long cannot represent ${String(value)}`);
    return n;
  },
  parseValue: (value) => {
    if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw invalid('Long must be a safe integer');
    return value;
  },
  parseLiteral: (ast) => {
    if (ast.kind !== Kind.INT) throw invalid('Long must be an integer');
    const n = Number(ast.value);
    if (!Number.isSafeInteger(n)) throw invalid('Long must be a safe integer');
    return n;
  },
});

const literalToJson = (ast: ValueNode, variables?: Record<string, unknown> | null): unknown => {
  switch (ast.kind) {
    case Kind.STRING:
    case Kind.BOOLEAN:
      return ast.value;
    case Kind.INT:
    case Kind.FLOAT:
      return Number(ast.value);
    case Kind.OBJECT:
      return Object.fromEntries(ast.fields.map((f) => [f.name.value, literalToJson(f.value, variables)]));
    case Kind.LIST:
      return ast.values.map((v) => literalToJson(v, variables));
    case Kind.NULL:
      return null;
    case Kind.VARIABLE:
      return variables ? variables[ast.name.value] : undefined;
    default:
      throw invalid('JSON literal not supported');
  }
};

/** Any JSON value. */
export const JSONScalar = new GraphQLScalarType<unknown, unknown>({
  name: 'JSON',
  description: 'Any JSON value',
  serialize: (v) => v,
  parseValue: (v) => v,
  parseLiteral: (ast, variables) => literalToJson(ast, variables),
});
