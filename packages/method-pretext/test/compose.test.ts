import {
  composeMethodSpecs,
  createRegistry,
  initBackend,
  methodBuildContext,
  Rng,
  Trainer,
} from "@selfsup/core";
import { tinyImageDataset } from "@selfsup/core/testing";
import { beforeAll, describe, expect, it } from "vitest";
import { autoencoderMethod, type Jigsaw, jigsawMethod, rotationMethod } from "../src/index.js";

beforeAll(async () => {
  await initBackend("wasm");
});

describe("pretext tasks as auxiliaries (core's composeMethodSpecs)", () => {
  it("autoencoder + 0.5 x rotation + 0.5 x jigsaw train one convnet together", async () => {
    const input = { kind: "image" as const, height: 16, width: 16, channels: 1 };
    const ctx = methodBuildContext({
      registry: createRegistry(),
      input,
      rng: new Rng(0),
      backbone: { name: "convnet", options: { width: 4 } },
    });
    const m = composeMethodSpecs(
      autoencoderMethod,
      { decoderChannels: 4 },
      [
        { spec: rotationMethod, options: { headHiddenDim: 8 }, weight: 0.5 },
        {
          spec: jigsawMethod,
          options: { permutations: 6, gap: 1, jitter: 0, headHiddenDim: 8 },
          weight: 0.5,
        },
      ],
      ctx,
    );
    // jigsaw asked for a backbone on 4x4 tiles: the convnet pools over space, so it is the shared one
    const modules = m.modules();
    expect(Object.keys(modules).filter((k) => k.endsWith("backbone"))).toEqual(["backbone"]);
    expect(Object.keys(m.state?.() ?? {})).toEqual(["jigsaw.permutations"]);
    const metrics: Array<Record<string, number>> = [];
    const trainer = new Trainer({
      method: m,
      dataset: tinyImageDataset({ height: 16, width: 16, size: 48 }),
      config: { epochs: 1, batchSize: 16, seed: 0 },
      callbacks: [{ onStepEnd: (s) => void metrics.push(s.metrics) }],
    });
    const first = modules.backbone?.trainableVariables()[0];
    if (!first) throw new Error("the shared backbone has no trainable variable");
    const before = (first.dataSync() as Float32Array).slice();
    const res = await trainer.fit();
    expect(res.losses).toHaveLength(3);
    expect(Object.keys(metrics[0] ?? {})).toEqual(
      expect.arrayContaining([
        "primary.loss",
        "aux.rotation.loss",
        "aux.rotation.accuracy",
        "aux.jigsaw.loss",
      ]),
    );
    const after = first.dataSync() as Float32Array;
    expect(after.some((v, i) => v !== before[i])).toBe(true);
    expect((modules["jigsaw.head"] as unknown as Jigsaw["head"]).trainableVariables().length).toBeGreaterThan(
      0,
    );
    m.dispose();
  });
});
