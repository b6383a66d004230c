/**
 * `selfsup backend add` refuses what it cannot add, and `selfsup list` says how many threads wasm
 * uses and why (here forced by SELFSUP_WASM_THREADS, so nothing is measured).
 */
import { describe, expect, it } from "vitest";
import { cliEnv, runCli, tempHome } from "./helpers.js";

describe("backend command and list", () => {
  it("backend add refuses an unknown backend, naming what can be added", async () => {
    const home = await tempHome();
    const r = await runCli(["backend", "add", "tensorflow"], cliEnv(home));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/"tensorflow" cannot be added; use one of webgpu.*build-native/);
  });

  it("list reports wasm's thread count and the reason", async () => {
    const home = await tempHome();
    const r = await runCli(["list"], cliEnv(home, { SELFSUP_BACKEND: "wasm", SELFSUP_WASM_THREADS: "2" }));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/chosen {2}wasm: .*, 2 threads \(SELFSUP_WASM_THREADS=2\)/);
  }, 60_000);
});
