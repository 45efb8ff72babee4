import { createHash } from 'node:crypto';
import { GraphQLError, Kind, parse, visit, type DocumentNode, type FragmentDefinitionNode, type GraphQLSchema, type SelectionSetNode } from 'graphql';
import { fieldExtensionsEstimator, getComplexity, simpleEstimator } from 'graphql-query-complexity';

/**
 * The most tokens a document may have. The parser stops counting there, so a huge document costs
 * no more to refuse than this many tokens. The pages' largest document has about 400.
 */
export const MAX_TOKENS = 5_000;

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
 * What a document's limits cost to know, kept per query text: numbers only, never the parsed
 * document, so that the memory a client can make this cache hold is bounded by its count (an entry
 * is a key of at most {@link KEY_MAX} characters and three numbers), whatever the documents' size.
 * Clients send the same few documents again and again, so most requests check their limits with one
 * map look-up; a document whose cost depends on its variables is parsed again for each request.
 */
interface Known {
  /** The syntax error (too many tokens included), when the document does not parse. */
  syntax: GraphQLError | null;
  depth: number;
  /** The cost, when it does not depend on the variables; null otherwise. */
  cost: number | null;
  /** The cost could not be computed (an invalid document: validation reports it). */
  costless: boolean;
}
const known = new Map<string, Known>();
const KNOWN_MAX = 2_000;
/** Longer documents are keyed by their SHA-256, so a key never holds more than this. */
const KEY_MAX = 512;

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

/** A refusal of the request itself: HTTP 400, the contract's BAD_USER_INPUT. */
const refusal = (message: string, extensions: Record<string, unknown>) =>
  new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT', ...extensions, http: { status: 400 } } });

const parseBounded = (query: string): DocumentNode => parse(query, { noLocation: true, maxTokens: MAX_TOKENS });

/**
 * Checks a document against the depth, cost and size limits before anything else parses or keeps
 * it (Apollo's document cache, graphql-ws). Returns the refusal, or null when the operation may run
 * (a document with other errors is left to validation, which reports them).
 */
export const checkOperationLimits = (
  schema: GraphQLSchema,
  query: string,
  variables: Record<string, unknown>,
  operationName: string | undefined,
  limits: { maxDepth: number; maxCost: number },
): GraphQLError | null => {
  const text = `${operationName ?? ''}\u0000${query}`;
  const cacheKey = text.length <= KEY_MAX ? text : `#${createHash('sha256').update(text).digest('base64')}`;
  let k = known.get(cacheKey);
  let doc: DocumentNode | null = null;
  if (!k) {
    k = { syntax: null, depth: 0, cost: null, costless: false };
    try {
      doc = parseBounded(query);
    } catch (e) {
      k.syntax = e instanceof GraphQLError ? refusal(e.message, { limit: e.message.includes('tokens') ? 'tokens' : 'syntax' }) : refusal('the document does not parse', {});
    }
    if (doc) {
      k.depth = operationDepth(doc, operationName);
      if (k.depth <= limits.maxDepth && !costUsesVariables(doc)) {
        k.cost = costOf(schema, doc, {}, operationName);
        k.costless = k.cost === null;
      }
    }
    if (known.size >= KNOWN_MAX) known.delete(known.keys().next().value!);
    known.set(cacheKey, k);
  }
  if (k.syntax) return k.syntax;
  if (k.depth > limits.maxDepth) return refusal(`query depth ${k.depth} exceeds the limit of ${limits.maxDepth}`, { limit: 'depth', depth: k.depth, max: limits.maxDepth });
  if (k.costless) return null;
  const cost = k.cost ?? costOf(schema, doc ?? parseBounded(query), variables, operationName);
  if (cost === null) return null; // invalid documents fail validation with their own message
  if (cost > limits.maxCost) return refusal(`query cost ${cost} exceeds the limit of ${limits.maxCost}`, { limit: 'cost', cost, max: limits.maxCost });
  return null;
};

const costOf = (schema: GraphQLSchema, doc: DocumentNode, variables: Record<string, unknown>, operationName: string | undefined): number | null => {
  try {
    return getComplexity({ schema, query: doc, variables, operationName, estimators: [fieldExtensionsEstimator(), simpleEstimator({ defaultComplexity: 1 })] });
  } catch {
    return null;
  }
};

/**
 * Apollo's cache of parsed and validated documents, bounded by count and by the documents' size: a
 * document of more than `maxChars` (16 KiB) of source is parsed again each time rather than kept,
 * so the cache holds at most `maxEntries` × `maxChars` characters of source (about 8 MB of syntax
 * tree). Apollo's own default is a 30 MiB LRU that keeps any document that validated.
 */
export class BoundedDocumentStore {
  private readonly docs = new Map<string, DocumentNode>();

  constructor(
    private readonly maxEntries = 500,
    private readonly maxChars = 16_384,
  ) {}

  get(key: string): Promise<DocumentNode | undefined> {
    const d = this.docs.get(key);
    if (d) {
      // Least recently used goes first: re-insert on a hit.
      this.docs.delete(key);
      this.docs.set(key, d);
    }
    return Promise.resolve(d);
  }

  set(key: string, doc: DocumentNode): Promise<void> {
    const chars = doc.loc?.end ?? Number.POSITIVE_INFINITY;
    if (chars > this.maxChars) return Promise.resolve();
    this.docs.delete(key);
    if (this.docs.size >= this.maxEntries) this.docs.delete(this.docs.keys().next().value!);
    this.docs.set(key, doc);
    return Promise.resolve();
  }

  delete(key: string): Promise<boolean> {
    return Promise.resolve(this.docs.delete(key));
  }
}
