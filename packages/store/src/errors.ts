import type { ZodError } from "zod";

/**
 * What went wrong, so callers (CLI exit codes, GraphQL/tRPC error codes) can branch without parsing
 * text. `unavailable`: the database cannot be reached or is held by another process (thrown as a
 * {@link StoreUnavailableError}).
 */
export type StoreErrorCode = "invalid_input" | "not_found" | "conflict" | "unavailable";

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

/** Why a store is unavailable. */
export type UnavailableReason =
  /** Another process holds the PGlite directory and does not share it (`share: false`, or an older tool's lock). */
  | "locked"
  /** The lock is held by a process on another host (same directory on a shared file system). */
  | "other_host"
  /** The process that served the directory to us has exited or closed it: reopen the store. */
  | "host_exited"
  /** The serving process is alive but did not answer (busy, stopped, or gone from the port). */
  | "host_unreachable";

/**
 * The store cannot be used from this process right now: another process holds the embedded
 * directory without sharing it, or the process that served it to us is gone. `reason` says which;
 * `dataDir` and `holderPid` name the directory and the other process.
 */
export class StoreUnavailableError extends StoreError {
  readonly reason: UnavailableReason;
  readonly dataDir: string | undefined;
  readonly holderPid: number | undefined;

  constructor(
    reason: UnavailableReason,
    message: string,
    details: { dataDir?: string; holderPid?: number } = {},
  ) {
    super("unavailable", message);
    this.name = "StoreUnavailableError";
    this.reason = reason;
    this.dataDir = details.dataDir;
    this.holderPid = details.holderPid;
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

/** The error for a run id that does not exist; `field` names the input that carried it. */
export function notFound(runId: string, field = "id"): StoreError {
  return new StoreError("not_found", `${field}: run ${runId} not found`, field);
}
