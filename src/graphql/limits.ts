import { GraphQLError, Kind, parse, visit, type DocumentNode, type FragmentDefinitionNode, type GraphQLSchema, type SelectionSetNode } from 'graphql';
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
/**
 * What a document's limits cost to know, kept per query text: the parsed document, its depth, and
 * its cost when no variable can change it (no list size comes from a variable). Clients send the
 * same few documents again and again, so most requests check their limits with one map look-up.
 */
interface Known {
  doc: DocumentNode | null;
  depth: number;
  /** The cost, when it does not depend on the variables; null otherwise. */
  cost: number | null;
}
const known = new Map<string, Known>();
const KNOWN_MAX = 2_000;

/**
 * Field arguments whose value changes an operation's cost: the page sizes the list fields'
 * complexity functions read (resolvers: `complexity: ({ args }) => … args.first …`), and directive
 * arguments (a variable in @include/@skip can drop a whole subtree).
 */
const COST_ARGUMENTS = new Set(['first']);

/** True when a variable can change the document's cost. */
const costUsesVariables = (doc: DocumentNode): boolean => {
  let found = false;
  const usesVariable = (node: import('graphql').ArgumentNode) => visit(node.value, { Variable() { found = true; } });
  visit(doc, {
    Directive(d) {
      for (const a of d.arguments ?? []) usesVariable(a);
    },
    Field(f) {
      for (const a of f.arguments ?? []) if (COST_ARGUMENTS.has(a.name.value)) usesVariable(a);
    },
  });
  return found;
};

export const checkOperationLimits = (
  schema: GraphQLSchema,
  query: string,
  variables: Record<string, unknown>,
  operationName: string | undefined,
  limits: { maxDepth: number; maxCost: number },
): GraphQLError | null => {
  const cacheKey = `${operationName ?? ''}\u0000${query}`;
  let k = known.get(cacheKey);
  if (!k) {
    let doc: DocumentNode | null = null;
    try {
      doc = parse(query);
    } catch {
      // the executor reports the syntax error itself
    }
    k = { doc, depth: doc ? operationDepth(doc, operationName) : 0, cost: null };
    if (doc && !costUsesVariables(doc)) k.cost = costOf(schema, doc, {}, operationName);
    if (known.size >= KNOWN_MAX) known.delete(known.keys().next().value!);
    known.set(cacheKey, k);
  }
  if (!k.doc) return null;
  const depth = k.depth;
  if (depth > limits.maxDepth)
    return new GraphQLError(`query depth ${depth} exceeds the limit of ${limits.maxDepth}`, { extensions: { code: 'BAD_USER_INPUT', limit: 'depth', depth, max: limits.maxDepth } });
  const cost = k.cost ?? costOf(schema, k.doc, variables, operationName);
  if (cost === null) return null; // invalid documents fail validation with their own message
  if (cost > limits.maxCost)
    return new GraphQLError(`query cost ${cost} exceeds the limit of ${limits.maxCost}`, { extensions: { code: 'BAD_USER_INPUT', limit: 'cost', cost, max: limits.maxCost } });
  return null;
};

const costOf = (schema: GraphQLSchema, doc: DocumentNode, variables: Record<string, unknown>, operationName: string | undefined): number | null => {
  try {
    return getComplexity({ schema, query: doc, variables, operationName, estimators: [fieldExtensionsEstimator(), simpleEstimator({ defaultComplexity: 1 })] });
  } catch {
    return null;
  }
};
