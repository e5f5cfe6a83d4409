import { GraphQLScalarType, valueFromASTUntyped } from "graphql";

/** Any JSON value, given inline in the query or as a variable. */
export const JsonScalar = new GraphQLScalarType({
  name: "JSON",
  description: "Any JSON value.",
  serialize: (value) => value,
  parseValue: (value) => value,
  parseLiteral: (ast, variables) => valueFromASTUntyped(ast, variables ?? undefined),
});
