import type { ZodError } from "zod";

/** What went wrong, so callers (CLI exit codes, GraphQL/tRPC error codes) can branch without parsing text. */
export type StoreErrorCode = "invalid_input" | "not_found" | "conflict";

/**
 * The one error type the store throws on purpose. `field` names the offending input (e.g. `first`,
 * `filter.status.0`, `after`) so an API layer can point at it; the message always includes it too.
 */
export class StoreError extends Error {
  readonly code: StoreErrorCode;
  readonly field: string | undefined;

  constructor(code: StoreErrorCode, message: string, field?: string) {
    super(message);
    this.name = "StoreError";
    this.code = code;
    this.field = field;
  }
}

/** Turns a zod failure into a StoreError whose message names every bad field, e.g. `first: Too big ...`. */
export function fromZodError(what: string, error: ZodError, prefix?: string): StoreError {
  const pathOf = (path: readonly PropertyKey[]) =>
    [...(prefix ? [prefix] : []), ...path.map(String)].join(".");
  const issues = error.issues.map((issue) => `${pathOf(issue.path) || "(input)"}: ${issue.message}`);
  const first = error.issues[0];
  const field = first ? pathOf(first.path) || undefined : prefix;
  return new StoreError("invalid_input", `invalid ${what}: ${issues.join("; ")}`, field);
}
