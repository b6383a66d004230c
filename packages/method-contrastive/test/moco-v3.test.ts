import { Rng, tf, ViT, vitTinyBackbone } from "@selfsup/core";
import { describeLossConformance } from "@selfsup/core/testing";
import { beforeAll, describe, expect, it } from "vitest";
import { type MoCoV3, mocoV3Loss, mocoV3LossSpec } from "../src/index.js";
import { buildContext, createMethod, randomViews, registry, setupBackend, stepContext } from "./helpers.js";
import { infoNCERef, type Mat, randn } from "./reference.js";

beforeAll(setupBackend);

describe("MoCo v3 loss (Chen, Xie, He 2021, Algorithm 1) against a hand-computed reference", () => {
  it("is 2t (InfoNCE(q1, k2) + InfoNCE(q2, k1)) with in-batch negatives", () => {
    const [q1, q2, k1, k2] = [1, 2, 3, 4].map((s) => randn(6, 5, 30 + s)) as [Mat, Mat, Mat, Mat];
    const ref = 2 * 0.2 * (infoNCERef(q1, k2, null, 0.2) + infoNCERef(q2, k1, null, 0.2));
    const t = (m: Mat) => tf.tensor2d(m);
    expect(mocoV3Loss(t(q1), t(q2), t(k1), t(k2)).dataSync()[0]).toBeCloseTo(ref, 4);
    // by hand, N = 1: the only key is the positive, log-softmax over one logit is 0
    expect(
      mocoV3Loss(
        tf.tensor2d([[1, 0]]),
        tf.tensor2d([[0, 1]]),
        tf.tensor2d([[3, 4]]),
        tf.tensor2d([[1, 1]]),
      ).dataSync()[0],
    ).toBeCloseTo(0, 6);
  });
});

describe("MoCo v3 method", () => {
  it("moves the momentum encoder only by EMA (m 0.99 at step 0) and trains a step", () => {
    const method = createMethod("moco-v3", {}, 1) as MoCoV3;
    const views = randomViews(8, 7);
    const r = method.trainStep({ inputs: views[0], views }, stepContext(method, { totalSteps: 10 }));
    expect(Number.isFinite(r.loss)).toBe(true);
    expect(r.metrics.momentum).toBeCloseTo(0.99, 6);
    expect(method.trainableVariables()).not.toContain(
      method.momentum.backbone.namedParameters()[0]?.variable,
    );
    tf.dispose(views);
    method.dispose();
  });

  it("random patch projection: the ViT's patch embedding is not trained; refused on a backbone without one", () => {
    const ctx = buildContext();
    const vit = () =>
      new ViT(
        vitTinyBackbone.options.parse({ dim: 8, depth: 1, heads: 2 }),
        { kind: "image", height: 8, width: 8, channels: 1 },
        new Rng(0),
      );
    const method = registry.create(
      "method",
      "moco-v3",
      { projectorHiddenDim: 16, projectorOutputDim: 8, freezePatchEmbedding: true },
      { ...ctx, buildBackbone: vit },
    ) as MoCoV3;
    const backbone = method.backbone as ViT;
    const patch = backbone.patchEmbed.weight;
    expect(method.trainableVariables()).not.toContain(patch);
    expect(method.trainableVariables()).toContain(backbone.posEmbed);
    const before = patch.dataSync().slice();
    const views = randomViews(4, 8);
    method.trainStep({ inputs: views[0], views }, stepContext(method));
    expect(Array.from(patch.dataSync())).toEqual(Array.from(before));
    tf.dispose(views);
    method.dispose();
    expect(() => createMethod("moco-v3", { freezePatchEmbedding: true })).toThrow(
      /freezePatchEmbedding \(random patch projection\) needs a backbone with a patch embedding/,
    );
  });
});

describeLossConformance(mocoV3LossSpec, {
  inputShapes: [
    [6, 4],
    [6, 4],
    [6, 4],
    [6, 4],
  ],
});
