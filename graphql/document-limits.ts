/**
 * The limits every GraphQL document is held to, in the order they cost nothing, little, then
 * something: its text (size, shape) before it is parsed, its tokens while it is parsed (the
 * parser stops at the limit), its depth, aliases and directives while it is validated (once per
 * distinct document: mercurius caches the result), and its cost before it executes, with the
 * list sizes it asks for (a `first` given as a variable counts with the variable's value).
 * The rules are graphql-armor's; the token limit is graphql-js's own `maxTokens`.
 */
import { costLimitRule } from "@escape.tech/graphql-armor-cost-limit";
import { maxAliasesRule } from "@escape.tech/graphql-armor-max-aliases";
import { maxDepthRule } from "@escape.tech/graphql-armor-max-depth";
import { maxDirectivesRule } from "@escape.tech/graphql-armor-max-directives";
import {
  Kind,
  specifiedRules,
  TokenKind,
  TypeInfo,
  validate,
  visit,
  visitWithTypeInfo,
  type ArgumentNode,
  type DocumentNode,
  GraphQLError,
  type GraphQLSchema,
  type ValidationContext,
  type ValidationRule,
  type ValueNode,
} from "graphql";
import type { ApiLimits } from "./api-limits";
import { limitVariable } from "./api-limits";

/** A refusal before parsing: its status, code and message. */
export interface TextRefusal {
  status: number;
  code: "BAD_REQUEST" | "PAYLOAD_TOO_LARGE";
  message: string;
}

/**
 * Checks a document's text before anything parses it: a string, within the size limit, and
 * GraphQL rather than a JSON-encoded syntax tree (which mercurius would otherwise accept, and
 * which no token limit bounds).
 */
export function checkDocumentText(query: unknown, limits: ApiLimits): TextRefusal | undefined {
  if (query === undefined) return undefined;
  if (typeof query !== "string") {
    return { status: 400, code: "BAD_REQUEST", message: "query must be a string" };
  }
  // A string's byte length is at least its length: only a short one needs counting.
  if (query.length > limits.maxDocumentBytes || byteLength(query) > limits.maxDocumentBytes) {
    return {
      status: 413,
      code: "PAYLOAD_TOO_LARGE",
      message: `the GraphQL document is over ${limits.maxDocumentBytes} bytes (${limitVariable("maxDocumentBytes")})`,
    };
  }
  if (/^\s*\{\s*"/.test(query)) {
    return { status: 400, code: "BAD_REQUEST", message: "query must be GraphQL text, not JSON" };
  }
  return undefined;
}

function byteLength(text: string): number {
  return Buffer.byteLength(text, "utf8");
}

/** mercurius' `graphql.parseOptions`: the parser gives up past the token limit. */
export function parseOptions(limits: ApiLimits) {
  return { maxTokens: limits.maxTokens };
}

/**
 * Tokens of a parsed document (comments are not tokens), counted up to the limit: for the
 * WebSocket path, where mercurius parses without options.
 */
export function tokensOver(document: DocumentNode, limits: ApiLimits): boolean {
  let count = 0;
  for (let token = document.loc?.startToken; token; token = token.next ?? undefined) {
    if (token.kind === TokenKind.SOF || token.kind === TokenKind.EOF) continue;
    if (token.kind === TokenKind.COMMENT) continue;
    if (++count > limits.maxTokens) return true;
  }
  return false;
}

export function tokenLimitMessage(limits: ApiLimits): string {
  return `Document contains more than ${limits.maxTokens} tokens (${limitVariable("maxTokens")})`;
}

/**
 * Armor rules report their refusal as a validation error instead of throwing out of validate,
 * naming the variable that raises the limit.
 */
function reported(limit: keyof ApiLimits) {
  return {
    propagateOnRejection: false,
    onReject: [
      (context: ValidationContext | null, error: GraphQLError) =>
        context?.reportError(
          new GraphQLError(
            `${error.message.replace(/^Syntax Error: /, "").replace(/\.$/, "")} (${limitVariable(limit)})`,
          ),
        ),
    ],
  };
}

/** Depth, aliases and directives: mercurius' `validationRules`, run once per document. */
export function shapeRules(limits: ApiLimits): ValidationRule[] {
  return [
    maxDepthRule({ n: limits.maxDepth, ...reported("maxDepth") }),
    // Aliases of __typename count too: armor lets them through by default.
    maxAliasesRule({ n: limits.maxAliases, allowList: [], ...reported("maxAliases") }),
    maxDirectivesRule({ n: limits.maxDirectives, ...reported("maxDirectives") }),
  ];
}

/** The arguments that size a list: armor multiplies a field's cost by them. */
const SIZE_ARGUMENTS = new Set(["first", "last"]);

/**
 * The cost limit. Armor's rule reads list sizes from literal `first` arguments only, so the
 * document it sees has them filled in: a variable's value, else the variable's or the field's
 * default. A document without variable sizes is checked once and remembered.
 */
export class CostCheck {
  private readonly rule: ValidationRule;
  private readonly fixed = new WeakMap<DocumentNode, readonly GraphQLError[] | "per-request">();

  constructor(
    private readonly schema: () => GraphQLSchema,
    limits: ApiLimits,
  ) {
    this.rule = costLimitRule({ maxCost: limits.maxCost, ...reported("maxCost") });
  }

  /** The cost errors of the document with these variables; none when it is within the limit. */
  errors(document: DocumentNode, variables: Record<string, unknown> | undefined) {
    const known = this.fixed.get(document);
    if (known !== undefined && known !== "per-request") return known;
    const { sized, usesVariables } = this.sized(document, variables ?? {});
    const errors = validate(this.schema(), sized, [this.rule]);
    if (known === undefined) this.fixed.set(document, usesVariables ? "per-request" : errors);
    return errors;
  }

  private sized(document: DocumentNode, variables: Record<string, unknown>) {
    const schema = this.schema();
    const typeInfo = new TypeInfo(schema);
    const defaults = new Map<string, ValueNode>();
    for (const definition of document.definitions) {
      if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
      for (const variable of definition.variableDefinitions ?? []) {
        if (variable.defaultValue)
          defaults.set(variable.variable.name.value, variable.defaultValue);
      }
    }
    let usesVariables = false;
    const sized = visit(
      document,
      visitWithTypeInfo(typeInfo, {
        Field(node) {
          const definition = typeInfo.getFieldDef();
          const sizeArgs = definition?.args.filter((a) => SIZE_ARGUMENTS.has(a.name)) ?? [];
          if (sizeArgs.length === 0) return undefined;
          const args: ArgumentNode[] = [...(node.arguments ?? [])];
          for (const arg of sizeArgs) {
            const index = args.findIndex((a) => a.name.value === arg.name);
            const given = index === -1 ? undefined : args[index]!.value;
            let size: unknown;
            if (given?.kind === Kind.INT) continue;
            if (given?.kind === Kind.VARIABLE) {
              usesVariables = true;
              const name = given.name.value;
              const fallback = defaults.get(name);
              size =
                variables[name] ??
                (fallback?.kind === Kind.INT ? Number(fallback.value) : arg.defaultValue);
            } else {
              size = arg.defaultValue;
            }
            if (typeof size !== "number" || !Number.isInteger(size)) continue;
            const value: ArgumentNode = {
              kind: Kind.ARGUMENT,
              name: { kind: Kind.NAME, value: arg.name },
              value: { kind: Kind.INT, value: String(size) },
            };
            if (index === -1) args.push(value);
            else args[index] = value;
          }
          return { ...node, arguments: args };
        },
      }),
    );
    return { sized, usesVariables };
  }
}

/**
 * Everything mercurius checks for a query, for a subscription document (which mercurius only
 * parses): the schema's rules, the shape limits and the cost.
 */
export function validateSubscription(
  schema: GraphQLSchema,
  document: DocumentNode,
  limits: ApiLimits,
  cost: CostCheck,
  hideSuggestions: boolean,
): readonly GraphQLError[] {
  const rules = [...specifiedRules, ...shapeRules(limits)];
  const errors = validate(schema, document, rules, { hideSuggestions });
  return errors.length > 0 ? errors : cost.errors(document, undefined);
}
