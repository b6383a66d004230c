import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  type BeitTokenizer,
  codebookUsage,
  type MAE,
  type SimMIM,
  writeReconstructions,
} from "../src/index.js";
import { createMethod, setupBackend, stepContext, tinyViT } from "./helpers.js";
import { barImages } from "./synthetic.js";

beforeAll(setupBackend);
const disposables: Array<{ dispose(): void }> = [];
afterEach(() => {
  for (const d of disposables.splice(0)) d.dispose();
});
const dir = mkdtempSync(join(tmpdir(), "selfsup-mim-pictures-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A labelled dataset of synthetic bar images (the pictures read its test split). */
async function barDataset() {
  const x = barImages(8, 99);
  const values = x.dataSync() as Float32Array;
  x.dispose();
  const split = {
    size: 8,
    get: async (i: number) => ({ data: values.slice(i * 256, (i + 1) * 256), label: 0 }),
  };
  return {
    name: "bars",
    input: { kind: "image", height: 16, width: 16, channels: 1 } as const,
    train: split,
    test: split,
  };
}

/** Width and height from a PNG's IHDR chunk. */
function pngSize(buf: Buffer): [number, number] {
  expect(buf.subarray(1, 4).toString("latin1")).toBe("PNG");
  return [buf.readUInt32BE(16), buf.readUInt32BE(20)];
}

describe("pictures", () => {
  it.each([
    ["mae", "remove"],
    ["simmim", "token"],
  ] as const)(
    "%s writes a reconstruction PNG: one row per image, input | masked | output",
    async (name, mode) => {
      const m = createMethod<MAE | SimMIM>(name, tinyViT(mode));
      disposables.push(m);
      const files = await writeReconstructions(m, await barDataset(), dir, { count: 4 });
      expect(files.map((f) => f.name)).toEqual(["reconstructions.png"]);
      const [w, h] = pngSize(readFileSync(join(dir, "reconstructions.png")));
      // 16 px cells scaled x6 = 96 px, 2 px padding: 3 columns, 4 rows
      expect([w, h]).toEqual([2 + 3 * 98, 2 + 4 * 98]);
    },
  );

  it("beit-tokenizer writes its codebook usage (JSON counts and a histogram PNG)", async () => {
    const m = createMethod<BeitTokenizer>("beit-tokenizer", { name: "convnet" }, { kind: "kmeans" });
    disposables.push(m);
    const ctx = stepContext(m);
    disposables.push(ctx);
    const x = barImages(16, 0);
    m.trainStep({ inputs: x, views: [] }, ctx);
    const direct = codebookUsage(m.tokenizer, x);
    x.dispose();
    expect(direct.counts.reduce((a, b) => a + b, 0)).toBe(16 * 16);
    const files = await m.writeArtifacts({ dataset: await barDataset(), dir });
    expect(files.map((f) => f.name)).toEqual(["codebook-usage.json", "codebook-usage.png"]);
    const usage = JSON.parse(readFileSync(join(dir, "codebook-usage.json"), "utf8"));
    expect(usage.counts).toHaveLength(8);
    expect(usage.patches).toBe(8 * 16);
    expect(usage.perplexity).toBeGreaterThanOrEqual(1);
    pngSize(readFileSync(join(dir, "codebook-usage.png")));
  });
});
