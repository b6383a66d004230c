import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pngjs from "pngjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderViewsGrid, writeAugmentPreview } from "../../src/augment/index.js";
import type { Dataset } from "../../src/plugin/types.js";
import { tf } from "../../src/tf.js";
import { testImages, useBackend } from "./helpers.js";

let dir = "";
beforeAll(async () => {
  await useBackend("wasm");
  dir = await mkdtemp(join(tmpdir(), "selfsup-preview-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function fakeDigits(n: number): Dataset {
  const data = testImages(n, 28, 28, 1);
  const values = data.dataSync().slice() as Float32Array;
  data.dispose();
  return {
    name: "fake-digits",
    input: { kind: "image", height: 28, width: 28, channels: 1 },
    train: { size: n, get: async (i) => ({ data: values.slice(i * 784, (i + 1) * 784), label: i % 10 }) },
  };
}

describe("previews", () => {
  it("renderViewsGrid draws rows of upscaled cells as a real PNG", () => {
    const rows = [testImages(3, 8, 8, 3), testImages(2, 8, 8, 3)];
    const png = renderViewsGrid(rows, { scale: 2, padding: 1 });
    expect([...png.subarray(0, 8)]).toEqual(PNG_SIGNATURE);
    const img = pngjs.PNG.sync.read(png);
    expect(img.width).toBe(1 + 3 * (16 + 1));
    expect(img.height).toBe(1 + 2 * (16 + 1));
    tf.dispose(rows);
  });

  it("writeAugmentPreview writes count rows of 1 + views cells", async () => {
    const out = join(dir, "sub", "views.png");
    const before = tf.memory().numTensors;
    const res = await writeAugmentPreview({ dataset: fakeDigits(20), count: 4, views: 3, out });
    expect(tf.memory().numTensors).toBe(before);
    const bytes = await readFile(out);
    expect([...bytes.subarray(0, 8)]).toEqual(PNG_SIGNATURE);
    const img = pngjs.PNG.sync.read(bytes);
    // 28 px cells upscaled x4 (to >= 96 px), 2 px padding
    expect(img.width).toBe(2 + 4 * (112 + 2));
    expect(img.height).toBe(2 + 4 * (112 + 2));
    expect(res).toMatchObject({ out, width: img.width, height: img.height });
    expect(res.indices).toHaveLength(4);
  });
});
