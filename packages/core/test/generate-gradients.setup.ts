/** Vitest global set-up: generate core-gradients.generated.ts (git-ignored) before any test imports it. */
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

export default function setup(): void {
  const script = fileURLToPath(
    new URL("../src/backend/gradients/generate-core-gradients.mjs", import.meta.url),
  );
  execFileSync(process.execPath, [script, "--quiet"], { stdio: "inherit" });
}
