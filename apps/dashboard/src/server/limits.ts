/**
 * Bounds on what one request may ask for, so a single query cannot make the server read a
 * million points or walk a deep graph:
 *
 * - argument limits (checked in the resolvers with these constants): page size, points per
 *   series, keys per request, runs per comparison;
 * - a depth limit, as a GraphQL validation rule (introspection is exempt up to its own bound);
 * - a cost limit, computed once the operation and its variables are known (an Apollo plugin):
 *   every selected field costs 1 (a series point's x, y, min, max and count together cost 1), and
 *   a list multiplies the cost of what is selected inside it by its size bound: `runs` by
 *   `first`, `series` by its number of keys, `points` by `maxPoints`, other lists by a fixed
 *   estimate (20).
 */
import type { ApolloServerPlugin } from "@apollo/server";
import {
  type ASTVisitor,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  GraphQLError,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLOutputType,
  type GraphQLSchema,
  getArgumentValues,
  getNamedType,
  isListType,
  isNonNullType,
  isObjectType,
  Kind,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
} from "graphql";

export const LIMITS = {
  maxPageSize: 200,
  maxPoints: 5000,
  maxSeriesKeys: 20,
  maxCompareRuns: 10,
  maxStatsKeys: 10,
  maxTags: 50,
  maxDepth: 10,
  maxIntrospectionDepth: 15,
  maxCost: 200_000,
  /** Aliased fields per operation: `a1: runs(...) a2: runs(...)` repeats a field's work. */
  maxAliases: 30,
  /** Skipped files listed per run (Run.skippedFiles first). */
  maxSkippedFiles: 1000,
  /** Top-level fields per operation (each is a query of its own on the store). */
  maxRootFields: 20,
  /** Milliseconds one request may take before it is answered 503 (SELFSUP_REQUEST_BUDGET_MS). */
  requestBudgetMs: 10_000,
} as const;

/** Size assumed for lists whose length no argument bounds (evaluations, tags, facets...). */
const DEFAULT_LIST_SIZE = 20;

export function badInput(message: string, field?: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: "BAD_USER_INPUT", ...(field ? { field } : {}) } });
}

export function checkRange(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw badInput(`${name} must be an integer from ${min} to ${max} (got ${value})`, name);
  }
}

/** The document's fragments by name. */
function fragmentsOf(document: DocumentNode): Record<string, FragmentDefinitionNode> {
  const fragments: Record<string, FragmentDefinitionNode> = {};
  for (const def of document.definitions)
    if (def.kind === Kind.FRAGMENT_DEFINITION) fragments[def.name.value] = def;
  return fragments;
}

// ---------------------------------------------------------------- depth

function depthOf(
  selectionSet: SelectionSetNode | undefined,
  fragments: Record<string, FragmentDefinitionNode>,
  visiting: Set<string>,
): { depth: number; introspectionDepth: number } {
  if (!selectionSet) return { depth: 0, introspectionDepth: 0 };
  let depth = 0;
  let introspectionDepth = 0;
  for (const sel of selectionSet.selections) {
    if (sel.kind === Kind.FIELD) {
      const inner = depthOf(sel.selectionSet, fragments, visiting);
      if (sel.name.value.startsWith("__")) {
        introspectionDepth = Math.max(
          introspectionDepth,
          1 + Math.max(inner.depth, inner.introspectionDepth),
        );
      } else {
        depth = Math.max(depth, 1 + inner.depth);
        introspectionDepth = Math.max(introspectionDepth, inner.introspectionDepth);
      }
    } else {
      let inner: SelectionSetNode | undefined;
      if (sel.kind === Kind.INLINE_FRAGMENT) inner = sel.selectionSet;
      else {
        const name = sel.name.value;
        if (visiting.has(name)) continue; // a cycle; NoFragmentCyclesRule reports it
        const frag = fragments[name];
        if (!frag) continue;
        visiting.add(name);
        const d = depthOf(frag.selectionSet, fragments, visiting);
        visiting.delete(name);
        depth = Math.max(depth, d.depth);
        introspectionDepth = Math.max(introspectionDepth, d.introspectionDepth);
        continue;
      }
      const d = depthOf(inner, fragments, visiting);
      depth = Math.max(depth, d.depth);
      introspectionDepth = Math.max(introspectionDepth, d.introspectionDepth);
    }
  }
  return { depth, introspectionDepth };
}

/** Validation rule: refuses operations nested deeper than `maxDepth` fields. */
export function depthLimitRule(
  maxDepth: number = LIMITS.maxDepth,
  maxIntrospectionDepth: number = LIMITS.maxIntrospectionDepth,
) {
  return (context: ValidationContext): ASTVisitor => {
    const fragments = fragmentsOf(context.getDocument());
    return {
      OperationDefinition(node) {
        const { depth, introspectionDepth } = depthOf(node.selectionSet, fragments, new Set());
        const name = node.name ? `operation ${node.name.value}` : "the operation";
        if (depth > maxDepth) {
          context.reportError(
            new GraphQLError(`${name} is nested ${depth} levels deep; the limit is ${maxDepth}`, {
              nodes: [node],
              extensions: { code: "QUERY_TOO_DEEP", limit: "depth", depth, maxDepth },
            }),
          );
        }
        if (introspectionDepth > maxIntrospectionDepth) {
          context.reportError(
            new GraphQLError(
              `${name} nests introspection ${introspectionDepth} levels deep; the limit is ${maxIntrospectionDepth}`,
              {
                nodes: [node],
                extensions: {
                  code: "QUERY_TOO_DEEP",
                  limit: "depth",
                  depth: introspectionDepth,
                  maxDepth: maxIntrospectionDepth,
                },
              },
            ),
          );
        }
      },
    };
  };
}

// ---------------------------------------------------------------- breadth

/** Aliased fields anywhere in, and top-level fields of, a selection (fragments expanded once each). */
function breadthOf(
  selectionSet: SelectionSetNode,
  fragments: Record<string, FragmentDefinitionNode>,
  visiting: Set<string>,
  atRoot: boolean,
  out: { aliases: number; rootFields: number },
): void {
  for (const sel of selectionSet.selections) {
    if (sel.kind === Kind.FIELD) {
      if (sel.name.value.startsWith("__")) continue;
      if (sel.alias) out.aliases++;
      if (atRoot) out.rootFields++;
      if (sel.selectionSet) breadthOf(sel.selectionSet, fragments, visiting, false, out);
    } else if (sel.kind === Kind.INLINE_FRAGMENT) {
      breadthOf(sel.selectionSet, fragments, visiting, atRoot, out);
    } else {
      const name = sel.name.value;
      const frag = fragments[name];
      if (!frag || visiting.has(name)) continue;
      visiting.add(name);
      breadthOf(frag.selectionSet, fragments, visiting, atRoot, out);
      visiting.delete(name);
    }
  }
}

/**
 * Validation rule: refuses operations with more than `maxAliases` aliased fields or more than
 * `maxRootFields` top-level fields. The cost limit counts every occurrence of a field (aliases
 * included), but a cheap-looking field can still be a search over every run: 1,000 aliases of
 * `runs(first: 1, filter: {search: ...}) { totalCount }` cost 2,000 units and took 4.4 s.
 */
export function breadthLimitRule(
  maxAliases: number = LIMITS.maxAliases,
  maxRootFields: number = LIMITS.maxRootFields,
) {
  return (context: ValidationContext): ASTVisitor => {
    const fragments = fragmentsOf(context.getDocument());
    return {
      OperationDefinition(node) {
        const out = { aliases: 0, rootFields: 0 };
        breadthOf(node.selectionSet, fragments, new Set(), true, out);
        const name = node.name ? `operation ${node.name.value}` : "the operation";
        if (out.aliases > maxAliases) {
          context.reportError(
            new GraphQLError(`${name} uses ${out.aliases} aliases; the limit is ${maxAliases}`, {
              nodes: [node],
              extensions: { code: "QUERY_TOO_BROAD", limit: "breadth", aliases: out.aliases, maxAliases },
            }),
          );
        }
        if (out.rootFields > maxRootFields) {
          context.reportError(
            new GraphQLError(
              `${name} asks for ${out.rootFields} top-level fields; the limit is ${maxRootFields}`,
              {
                nodes: [node],
                extensions: {
                  code: "QUERY_TOO_BROAD",
                  limit: "breadth",
                  rootFields: out.rootFields,
                  maxRootFields,
                },
              },
            ),
          );
        }
      },
    };
  };
}

// ---------------------------------------------------------------- cost

interface Scope {
  /** maxPoints in force for `points` lists below. */
  maxPoints: number;
  /** Runs and keys of the enclosing compare(). */
  compareRuns: number;
  compareKeys: number;
  /** `first` of the enclosing Run.skippedFiles. */
  skippedFiles: number;
}

function isList(type: GraphQLOutputType): boolean {
  return isListType(isNonNullType(type) ? type.ofType : type);
}

/**
 * How many items a field returns at most, from its arguments (1 for a non-list). Updates `scope`
 * (the scope of the field's own selections) for lists further down: series -> points.
 */
function listSize(
  parent: string,
  field: GraphQLField<unknown, unknown>,
  args: Record<string, unknown>,
  scope: Scope,
): number {
  const len = (v: unknown, otherwise: number) => (Array.isArray(v) ? v.length : otherwise);
  switch (`${parent}.${field.name}`) {
    case "Query.runs":
      return Math.max(1, Number(args.first ?? 50));
    case "Query.compare":
      scope.maxPoints = Number(args.maxPoints ?? 500);
      scope.compareRuns = len(args.ids, LIMITS.maxCompareRuns);
      scope.compareKeys = len(args.keys, LIMITS.maxSeriesKeys);
      return 1;
    case "Comparison.runs":
      return scope.compareRuns;
    case "Comparison.keys":
      return scope.compareKeys;
    case "Comparison.series":
      return scope.compareRuns * scope.compareKeys;
    case "RunConnection.edges":
      return 1; // counted at Query.runs
    case "Run.series":
      scope.maxPoints = Number(args.maxPoints ?? 1000);
      return len(args.keys, 1);
    case "Run.metricStats":
      return len(args.keys, 1);
    case "Run.skippedFiles":
      scope.skippedFiles = Math.max(1, Number(args.first ?? 200));
      return 1;
    case "SkippedFiles.files":
      return scope.skippedFiles;
    case "Series.points":
      return scope.maxPoints;
    default:
      return isList(field.type) ? DEFAULT_LIST_SIZE : 1;
  }
}

interface CostWalk {
  schema: GraphQLSchema;
  fragments: Record<string, FragmentDefinitionNode>;
  variables: Record<string, unknown>;
}

function selectionCost(
  walk: CostWalk,
  selectionSet: SelectionSetNode,
  type: GraphQLNamedType,
  scope: Scope,
  visiting: Set<string>,
): number {
  let cost = 0;
  for (const sel of selectionSet.selections) {
    if (sel.kind === Kind.FIELD) {
      cost += fieldCost(walk, sel, type, scope, visiting);
    } else if (sel.kind === Kind.INLINE_FRAGMENT) {
      const t = sel.typeCondition ? (walk.schema.getType(sel.typeCondition.name.value) ?? type) : type;
      cost += selectionCost(walk, sel.selectionSet, t, scope, visiting);
    } else {
      const frag = walk.fragments[sel.name.value];
      if (!frag || visiting.has(frag.name.value)) continue;
      visiting.add(frag.name.value);
      const t = walk.schema.getType(frag.typeCondition.name.value) ?? type;
      cost += selectionCost(walk, frag.selectionSet, t, scope, visiting);
      visiting.delete(frag.name.value);
    }
  }
  return cost;
}

function fieldCost(
  walk: CostWalk,
  node: FieldNode,
  parent: GraphQLNamedType,
  outer: Scope,
  visiting: Set<string>,
): number {
  const name = node.name.value;
  if (name.startsWith("__")) return 0; // introspection: bounded by the schema and the depth rule
  if (!isObjectType(parent)) return 1;
  // A point is the unit of a series: its x, y, min, max, count come together.
  if (parent.name === "SeriesPoint" || parent.name === "ScatterPoint") return 0;
  const field = parent.getFields()[name];
  if (!field) return 1;
  let args: Record<string, unknown> = {};
  try {
    args = getArgumentValues(field, node, walk.variables);
  } catch {
    // Bad arguments are reported by execution with a proper message.
  }
  const scope: Scope = { ...outer };
  const size = listSize(parent.name, field, args, scope);
  const inner = node.selectionSet
    ? selectionCost(walk, node.selectionSet, getNamedType(field.type), scope, visiting)
    : 0;
  return size * (1 + inner);
}

/** The cost of the operation that will run (see the module comment for the units). */
export function operationCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown> = {},
): number {
  const fragments = fragmentsOf(document);
  const root = operation.operation === "mutation" ? schema.getMutationType() : schema.getQueryType();
  if (!root) return 0;
  return selectionCost(
    { schema, fragments, variables },
    operation.selectionSet,
    root,
    { maxPoints: 1000, compareRuns: 1, compareKeys: 1, skippedFiles: 200 },
    new Set(),
  );
}

/** Apollo plugin: refuses an operation whose cost exceeds `maxCost`, before any resolver runs. */
export function costLimitPlugin(maxCost: number = LIMITS.maxCost): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ schema, document, operation, request }) {
          if (!operation) return;
          const cost = operationCost(schema, document, operation, request.variables ?? {});
          if (cost > maxCost) {
            throw new GraphQLError(
              `this query would cost ${cost} (fields x list sizes: first, keys, maxPoints); the limit is ${maxCost}. Ask for fewer runs, keys or points.`,
              { extensions: { code: "QUERY_TOO_COSTLY", cost, maxCost, http: { status: 400 } } },
            );
          }
        },
      };
    },
  };
}
