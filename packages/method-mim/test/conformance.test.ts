import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initBackend } from "@selfsup/core";
import { type ConformanceOptions, describeMethodConformance } from "@selfsup/core/testing";
import { afterAll, beforeAll } from "vitest";
import { beitTokenizerMethod, mimMethods } from "../src/index.js";
import { tinyConvnet, tinyText, tinyViT, trainTinyTokenizer } from "./helpers.js";

// core's conformance kit (options, finite loss, loss falls, no leaks, checkpoint round trip,
// determinism) with each spec's tinyOptions, on 16x16 gray images with 4x4 patches (16 patches)
// and a tiny vit-tiny, or on 16-token sequences of a 32-word vocabulary: seconds per method.
const image16 = { kind: "image", height: 16, width: 16, channels: 1 } as const;

// BEiT reads a trained beit-tokenizer checkpoint: one is trained (a few steps) before the suite.
const tokenizerRun = join(mkdtempSync(join(tmpdir(), "selfsup-mim-conformance-")), "tokenizer-run");
beforeAll(async () => {
  await initBackend("cpu");
  await trainTinyTokenizer(tokenizerRun, image16);
});
afterAll(() => rmSync(join(tokenizerRun, ".."), { recursive: true, force: true }));

const RUNS: Record<string, Array<{ label?: string } & ConformanceOptions>> = {
  mae: [{ input: image16, backbone: tinyViT("remove") }],
  ijepa: [{ input: image16, backbone: tinyViT("remove") }],
  simmim: [
    { input: image16, backbone: tinyViT("token") },
    { label: "convnet", input: image16, backbone: tinyConvnet },
  ],
  "beit-tokenizer": [
    { input: image16 },
    { label: "kmeans", input: image16, options: { ...beitTokenizerMethod.tinyOptions, kind: "kmeans" } },
  ],
  beit: [{ input: image16, backbone: tinyViT("token"), options: { tokenizer: tokenizerRun } }],
  mlm: [{ backbone: tinyText("text-transformer") }, { label: "lstm", backbone: tinyText("lstm") }],
};

for (const spec of mimMethods) {
  const runs = RUNS[spec.name];
  if (!runs) throw new Error(`conformance.test.ts: no conformance inputs for method "${spec.name}"`);
  for (const { label, ...opts } of runs) {
    describeMethodConformance(label ? { ...spec, name: `${spec.name}-${label}` } : spec, opts);
  }
}
