import type { SqlValue } from "./db-types.js";

/** Collects `$n` placeholders and their values while a query is assembled. */
export class Params {
  readonly values: SqlValue[] = [];
  add(value: SqlValue): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

export function unique<T>(xs: readonly T[]): T[] {
  return [...new Set(xs)];
}

/** The SQLSTATE of a driver error (e.g. 23505 unique violation, 23503 foreign key), if any. */
export function pgCode(err: unknown): string | undefined {
  if (typeof err === "object" && err !== null && "code" in err) {
    const code = (err as { code: unknown }).code;
    return typeof code === "string" ? code : undefined;
  }
  return undefined;
}
