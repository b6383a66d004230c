/** The text scripts/codegen.mjs writes to src/server/generated/graphql.ts. */
export declare function generate(): Promise<string>;
