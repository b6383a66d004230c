/**
 * src/official-methods.ts is generated from the method packages' own plugins (what each registers):
 * it must match them, so a method added to a package is named in install hints without a hand edit.
 */
import { execFile } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { installHint } from "../src/config.js";
import { OFFICIAL_METHOD_PACKAGES } from "../src/official-methods.generated.js";

const runnerRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

describe("OFFICIAL_METHOD_PACKAGES", () => {
  it("equals what each method package's plugin registers (scripts/official-methods.mjs --check)", async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [path.join(runnerRoot, "scripts", "official-methods.mjs"), "--check"],
      { cwd: runnerRoot },
    );
    expect(stdout).toContain("up to date");
  }, 60_000);

  it("names real methods only, and install hints point at their package", () => {
    const all = Object.values(OFFICIAL_METHOD_PACKAGES).flat();
    expect(all).toContain("autoencoder");
    expect(all).not.toContain("denoising-autoencoder");
    expect(installHint("autoencoder")).toContain("@selfsup/method-pretext");
    expect(installHint("denoising-autoencoder")).toBe("");
  });
});
