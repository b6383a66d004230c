import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { currentBackend, formatBackendReport, initBackend, webgpuInstalled } from "../src/index.js";
import { tf } from "../src/tf.js";

const nativeBefore = process.env.SELFSUP_NATIVE_DIR;
const webgpuBefore = process.env.SELFSUP_WEBGPU_DIR;
/** Where CI's webgpu section installed the packages (SELFSUP_WEBGPU_DIR), if it did. */
const WEBGPU_AT = webgpuBefore !== undefined && webgpuInstalled(webgpuBefore) ? webgpuBefore : undefined;

function restoreEnv(): void {
  delete process.env.SELFSUP_BACKEND;
  if (nativeBefore === undefined) delete process.env.SELFSUP_NATIVE_DIR;
  else process.env.SELFSUP_NATIVE_DIR = nativeBefore;
  if (webgpuBefore === undefined) delete process.env.SELFSUP_WEBGPU_DIR;
  else process.env.SELFSUP_WEBGPU_DIR = webgpuBefore;
}

describe("initBackend", () => {
  beforeEach(() => {
    // No natively built backend and no webgpu here, whatever the environment has (CI's native
    // and webgpu sections set them).
    process.env.SELFSUP_NATIVE_DIR = mkdtempSync(path.join(tmpdir(), "selfsup-no-native-"));
    process.env.SELFSUP_WEBGPU_DIR = mkdtempSync(path.join(tmpdir(), "selfsup-no-webgpu-"));
  });
  afterEach(restoreEnv);

  it("auto skips the native packages that are not installed and chooses wasm, saying why", async () => {
    const report = await initBackend("auto");
    expect(report.backend).toBe("wasm");
    expect(tf.getBackend()).toBe("wasm");
    const skipped = report.attempts.filter((a) => !a.ok).map((a) => a.backend);
    expect(skipped).toEqual(["tensorflow-gpu", "webgpu", "tensorflow"]);
    expect(report.attempts[0]!.reason).toMatch(
      /@tensorflow\/tfjs-node-gpu is not installed \(nor built into .*selfsup-no-native-.*selfsup backend build-native/,
    );
    expect(report.attempts[1]!.reason).toMatch(
      /webgpu and @tensorflow\/tfjs-backend-webgpu are not installed \(nor in .*selfsup-no-webgpu-.*selfsup backend add webgpu/,
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
      /SELFSUP_BACKEND="cuda".*auto, tensorflow-gpu, webgpu, tensorflow, wasm, cpu/,
    );
  });

  it("an explicit native request fails clearly when the package is absent", async () => {
    await expect(initBackend("tensorflow")).rejects.toThrow(
      /tensorflow: @tensorflow\/tfjs-node is not installed/,
    );
  });
});

// With the webgpu packages installed (CI's webgpu section; locally SELFSUP_WEBGPU_DIR): "auto" uses
// a hardware adapter only, "webgpu" by name also a software one (Mesa's llvmpipe here).
describe.skipIf(WEBGPU_AT === undefined)("initBackend with webgpu installed", () => {
  beforeEach(() => {
    process.env.SELFSUP_NATIVE_DIR = mkdtempSync(path.join(tmpdir(), "selfsup-no-native-"));
    process.env.SELFSUP_WEBGPU_DIR = WEBGPU_AT;
  });
  afterEach(restoreEnv);

  it("auto reports the adapter and takes webgpu only on hardware", async () => {
    const report = await initBackend("auto");
    const webgpu = report.attempts.find((a) => a.backend === "webgpu");
    expect(report.adapter).toBeDefined();
    if (report.adapter!.software) {
      expect(webgpu).toMatchObject({ ok: false });
      expect(webgpu!.reason).toMatch(/only a software adapter: .*software.*SELFSUP_BACKEND=webgpu/);
      expect(report.backend).toBe("wasm");
    } else {
      expect(report.backend).toBe("webgpu");
    }
  });

  it("webgpu by name runs on whatever adapter there is, and reads back synchronously", async () => {
    process.env.SELFSUP_BACKEND = "webgpu";
    const report = await initBackend("auto");
    expect(report.backend).toBe("webgpu");
    expect(tf.getBackend()).toBe("webgpu");
    expect(report.attempts.at(-1)!.reason).toMatch(/^WebGPU on .*(software|hardware)/);
    expect(formatBackendReport(report)).toMatch(/chosen {2}webgpu/);
    // A result computed on the GPU and read with dataSync (tfjs' own readSync needs a canvas).
    const y = tf.tidy(() => tf.matMul(tf.ones([64, 32]), tf.fill([32, 8], 0.5)));
    expect(Array.from(y.dataSync()).every((v) => v === 16)).toBe(true);
    y.dispose();
  });
});
