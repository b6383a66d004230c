/**
 * The design requires exactly one @tensorflow/tfjs-core in the workspace: two copies would give
 * two kernel/gradient registries as seen by their own ops, and tensors from one would not be
 * instances of the other's Tensor. core, tfjs-backend-cpu and tfjs-backend-wasm must all resolve
 * the same installed file.
 */
import { realpathSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { describe, expect, it } from "vitest";

const require = createRequire(import.meta.url);

function coreFrom(dir: string): string {
  const req = createRequire(path.join(dir, "package.json"));
  return realpathSync(req.resolve("@tensorflow/tfjs-core/package.json"));
}

describe("one @tensorflow/tfjs-core instance", () => {
  it("packages/core and both backends resolve the same tfjs-core", () => {
    const fromCore = realpathSync(require.resolve("@tensorflow/tfjs-core/package.json"));
    const backendDirs = ["@tensorflow/tfjs-backend-cpu", "@tensorflow/tfjs-backend-wasm"].map((p) =>
      path.dirname(realpathSync(require.resolve(`${p}/package.json`))),
    );
    for (const dir of backendDirs) expect(coreFrom(dir)).toBe(fromCore);
    expect(require(fromCore).version).toBe(require("@tensorflow/tfjs-core/package.json").version);
  });

  it("the backends' peer version is the installed one", () => {
    const core = require("@tensorflow/tfjs-core/package.json") as { version: string };
    for (const p of ["@tensorflow/tfjs-backend-cpu", "@tensorflow/tfjs-backend-wasm"]) {
      const pkg = require(`${p}/package.json`) as {
        version: string;
        peerDependencies: Record<string, string>;
      };
      expect(pkg.peerDependencies["@tensorflow/tfjs-core"]).toBe(core.version);
      expect(pkg.version).toBe(core.version);
    }
  });
});
