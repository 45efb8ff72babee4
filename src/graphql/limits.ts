import { GraphQLError, Kind, parse, type DocumentNode, type FragmentDefinitionNode, type GraphQLSchema, type SelectionSetNode } from 'graphql';
import { fieldExtensionsEstimator, getComplexity, simpleEstimator } from 'graphql-query-complexity';

/** Depth of the deepest field path in the chosen operation (fragments expanded, introspection counted). */
export const operationDepth = (doc: DocumentNode, operationName?: string): number => {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of doc.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const ops = doc.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
  const op = ops.find((d) => d.kind === Kind.OPERATION_DEFINITION && (!operationName || d.name?.value === operationName)) ?? ops[0];
  if (!op || op.kind !== Kind.OPERATION_DEFINITION) return 0;
  const depth = (set: SelectionSetNode | undefined, seen: Set<string>): number => {
    if (!set) return 0;
    let max = 0;
    for (const s of set.selections) {
      if (s.kind === Kind.FIELD) max = Math.max(max, 1 + depth(s.selectionSet, seen));
      else if (s.kind === Kind.INLINE_FRAGMENT) max = Math.max(max, depth(s.selectionSet, seen));
      else if (!seen.has(s.name.value)) {
        const f = fragments.get(s.name.value);
        if (f) max = Math.max(max, depth(f.selectionSet, new Set([...seen, s.name.value])));
      }
    }
    return max;
  };
  return depth(op.selectionSet, new Set());
};

/**
 * Depth and cost limits for every operation, HTTP and WebSocket alike. Cost: each field costs 1, list
 * fields multiply their children by the page size they ask for (field extensions), so many aliased
 * lists in one request are refused before anything runs.
 */
export const checkOperationLimits = (
  schema: GraphQLSchema,
  query: string,
  variables: Record<string, unknown>,
  operationName: string | undefined,
  limits: { maxDepth: number; maxCost: number },
): GraphQLError | null => {
  let doc: DocumentNode;
  try {
    doc = parse(query);
  } catch {
    return null; // the executor reports the syntax error itself
  }
  const depth = operationDepth(doc, operationName);
  if (depth > limits.maxDepth)
    return new GraphQLError(`query depth ${depth} exceeds the limit of ${limits.maxDepth}`, { extensions: { code: 'BAD_USER_INPUT', limit: 'depth', depth, max: limits.maxDepth } });
  let cost: number;
  try {
    cost = getComplexity({ schema, query: doc, variables, operationName, estimators: [fieldExtensionsEstimator(), simpleEstimator({ defaultComplexity: 1 })] });
  } catch {
    return null; // invalid documents fail validation with their own message
  }
  if (cost > limits.maxCost)
    return new GraphQLError(`query cost ${cost} exceeds the limit of ${limits.maxCost}`, { extensions: { code: 'BAD_USER_INPUT', limit: 'cost', cost, max: limits.maxCost } });
  return null;
};
