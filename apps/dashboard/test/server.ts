/** Starts the BUILT dashboard (`scripts/start.mjs`, as `pnpm start` does) on 127.0.0.1 and a free port, for end-to-end tests. */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { assertNextBuilt, type NextApp, startNextApp } from "@selfsup/runner/testing";

export const APP_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const BUILD_HINT = "run `pnpm --filter @selfsup/dashboard build` (turbo does before `test`)";

export type Dashboard = NextApp;

export function assertBuilt(): void {
  assertNextBuilt(APP_DIR, BUILD_HINT);
}

export function startDashboard(env: Record<string, string>): Promise<Dashboard> {
  return startNextApp({ dir: APP_DIR, env, buildHint: BUILD_HINT, script: "scripts/start.mjs" });
}
