/**
 * Dotted field paths from the command line (`--set a.b.c=value`) are user input that becomes
 * object keys: `__proto__`, `constructor` and `prototype` would reach Object.prototype, so they
 * are refused before any object is touched.
 */

const FORBIDDEN = new Set(["__proto__", "constructor", "prototype"]);

/** Throws `makeError(message)` when a segment of `dotted` could reach an object's prototype. */
export function assertSafePath(dotted: string, makeError: (message: string) => Error): void {
  for (const key of dotted.split(".")) {
    if (FORBIDDEN.has(key.trim()))
      throw makeError(
        `--set ${JSON.stringify(dotted)}: "${key.trim()}" is not allowed as a field name (it would reach JavaScript object internals)`,
      );
  }
}
