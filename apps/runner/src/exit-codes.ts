/**
 * Exit codes of `selfsup`: scripts and CI branch on these, so they never change meaning.
 *   0 ok · 1 failure (a run failed, a crash) · 2 bad config or usage · 130 interrupted (Ctrl-C / SIGTERM)
 */
export const EXIT = { ok: 0, failure: 1, usage: 2, interrupted: 130 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** An error the CLI reports as one message (no stack) with a chosen exit code. */
export class CliError extends Error {
  override name = "CliError";
  constructor(
    message: string,
    readonly exitCode: ExitCode = EXIT.failure,
  ) {
    super(message);
  }
}
