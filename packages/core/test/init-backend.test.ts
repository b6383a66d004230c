import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { currentBackend, formatBackendReport, initBackend } from "../src/index.js";
import { tf } from "../src/tf.js";

describe("initBackend", () => {
  const nativeBefore = process.env.SELFSUP_NATIVE_DIR;
  beforeEach(() => {
    // No natively built backend here, whatever the environment has (CI's native section sets one).
    process.env.SELFSUP_NATIVE_DIR = mkdtempSync(path.join(tmpdir(), "selfsup-no-native-"));
  });
  afterEach(() => {
    delete process.env.SELFSUP_BACKEND;
    if (nativeBefore === undefined) delete process.env.SELFSUP_NATIVE_DIR;
    else process.env.SELFSUP_NATIVE_DIR = nativeBefore;
  });

  it("auto skips the native packages that are not installed and chooses wasm, saying why", async () => {
    const report = await initBackend("auto");
    expect(report.backend).toBe("wasm");
    expect(tf.getBackend()).toBe("wasm");
    const skipped = report.attempts.filter((a) => !a.ok).map((a) => a.backend);
    expect(skipped).toEqual(["tensorflow-gpu", "tensorflow"]);
    expect(report.attempts[0]!.reason).toMatch(
      /@tensorflow\/tfjs-node-gpu is not installed \(nor built into .*selfsup-no-native-.*selfsup backend build-native/,
    );
    expect(formatBackendReport(report)).toMatch(/chosen {2}wasm/);
    expect(currentBackend()).toBe(report);
  });

  it("SELFSUP_BACKEND overrides the request", async () => {
    process.env.SELFSUP_BACKEND = "cpu";
    const report = await initBackend("wasm");
    expect(report.requested).toBe("cpu");
    expect(tf.getBackend()).toBe("cpu");
  });

  it("refuses an unknown SELFSUP_BACKEND naming the allowed ones", async () => {
    process.env.SELFSUP_BACKEND = "cuda";
    await expect(initBackend()).rejects.toThrow(
      /SELFSUP_BACKEND="cuda".*auto, tensorflow-gpu, tensorflow, wasm, cpu/,
    );
  });

  it("an explicit native request fails clearly when the package is absent", async () => {
    await expect(initBackend("tensorflow")).rejects.toThrow(
      /tensorflow: @tensorflow\/tfjs-node is not installed/,
    );
  });
});
