/**
 * `selfsup bench`: runs @selfsup/core's benchmark entry (dist/bench/main.js) with the given
 * arguments, in a child process so that its output and exit code are its own.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { CliError, EXIT } from "../exit-codes.js";

/** Path of core's bench entry next to its installed dist/index.js. */
export function benchEntry(): string {
  const require = createRequire(import.meta.url);
  let indexPath: string;
  try {
    indexPath = fileURLToPath(import.meta.resolve("@selfsup/core"));
  } catch {
    indexPath = require.resolve("@selfsup/core");
  }
  return path.join(path.dirname(indexPath), "bench", "main.js");
}

export async function benchCommand(args: string[]): Promise<number> {
  const entry = benchEntry();
  if (!existsSync(entry)) {
    throw new CliError(
      `@selfsup/core's benchmark entry is missing (${entry}); build core first: pnpm --filter @selfsup/core build`,
      EXIT.failure,
    );
  }
  const child = spawn(process.execPath, [entry, ...args], { stdio: "inherit" });
  const forward = (sig: NodeJS.Signals) => child.kill(sig);
  process.on("SIGINT", forward);
  process.on("SIGTERM", forward);
  try {
    return await new Promise<number>((resolve) => {
      child.on("exit", (code, signal) =>
        resolve(code ?? (signal === "SIGINT" || signal === "SIGTERM" ? EXIT.interrupted : EXIT.failure)),
      );
    });
  } finally {
    process.off("SIGINT", forward);
    process.off("SIGTERM", forward);
  }
}
