/** The JSON and DateTime scalars. */
import { GraphQLError, GraphQLScalarType, Kind, type ValueNode } from "graphql";

function literalToJson(node: ValueNode, variables?: Record<string, unknown> | null): unknown {
  switch (node.kind) {
    case Kind.STRING:
    case Kind.BOOLEAN:
      return node.value;
    case Kind.INT:
    case Kind.FLOAT:
      return Number(node.value);
    case Kind.NULL:
      return null;
    case Kind.LIST:
      return node.values.map((v) => literalToJson(v, variables));
    case Kind.OBJECT:
      return Object.fromEntries(node.fields.map((f) => [f.name.value, literalToJson(f.value, variables)]));
    case Kind.VARIABLE:
      return variables ? variables[node.name.value] : undefined;
    default:
      return undefined;
  }
}

export const JSONScalar = new GraphQLScalarType({
  name: "JSON",
  serialize: (value) => value,
  parseValue: (value) => value,
  parseLiteral: (node, variables) => literalToJson(node, variables),
});

function toDate(value: unknown): Date {
  const d =
    value instanceof Date
      ? value
      : typeof value === "string" || typeof value === "number"
        ? new Date(value)
        : null;
  if (!d || Number.isNaN(d.getTime())) {
    throw new GraphQLError(
      `DateTime must be an ISO-8601 string or milliseconds since the epoch (got ${JSON.stringify(value)})`,
      {
        extensions: { code: "BAD_USER_INPUT" },
      },
    );
  }
  return d;
}

export const DateTimeScalar = new GraphQLScalarType({
  name: "DateTime",
  serialize: (value) => toDate(value).toISOString(),
  parseValue: (value) => toDate(value),
  parseLiteral: (node) => {
    if (node.kind === Kind.STRING) return toDate(node.value);
    if (node.kind === Kind.INT) return toDate(Number(node.value));
    throw new GraphQLError("DateTime must be an ISO-8601 string or milliseconds since the epoch", {
      extensions: { code: "BAD_USER_INPUT" },
    });
  },
});
