import { beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { initBackend } from "../../src/backend/init-backend.js";
import {
  buildClassifier,
  composeMethodSpecs,
  composeMethods,
  MethodBase,
  methodBuildContext,
  sharedBackboneContext,
  twoViews,
} from "../../src/method/index.js";
import { defineMethod } from "../../src/plugin/define-plugin.js";
import type { LossOutput, Method, StepContext, StepResult, TrainBatch } from "../../src/plugin/types.js";
import { Rng } from "../../src/rng.js";
import { describeMethodConformance, tinyEncoder, tinyImageDataset } from "../../src/testing/index.js";
import { tf } from "../../src/tf.js";
import { Trainer } from "../../src/train/trainer.js";
import { convnetContext, input, registry } from "./helpers.js";

beforeAll(async () => {
  await initBackend("cpu");
});

const none = z.object({});

/** A two-view primary: pull the two views' projections together. */
class Pull extends MethodBase {
  override readonly name = "pull";
  readonly views = 2;
  readonly backbone = this.addBackbone();
  readonly head = this.module("head", buildClassifier(this.ctx, this.backbone.outputDim, 4));
  trainStep(batch: TrainBatch, ctx: StepContext): StepResult {
    return ctx.minimize(() => {
      const [a, b] = twoViews(batch, this.name);
      const d = tf.sub(
        this.head.forward(this.backbone.forward(a)),
        this.head.forward(this.backbone.forward(b)),
      );
      return { loss: tf.mean(tf.square(d)) as tf.Scalar, metrics: { gap: tf.mean(tf.abs(d)) as tf.Scalar } };
    });
  }
}

/** A view-free auxiliary that does all its work inside lossFn: predict the mean brightness. */
class Brightness extends MethodBase {
  override readonly name: string = "brightness";
  readonly views = 0;
  readonly backbone = this.addBackbone();
  readonly head = this.module("head", buildClassifier(this.ctx, this.backbone.outputDim, 1));
  trainStep(batch: TrainBatch, ctx: StepContext): StepResult {
    return ctx.minimize(() => {
      const x = batch.inputs;
      const target = tf.reshape(tf.mean(x, [1, 2, 3]), [-1, 1]);
      const err = tf.sub(this.head.forward(this.backbone.forward(x)), target);
      return {
        loss: tf.mean(tf.square(err)) as tf.Scalar,
        metrics: { err: tf.mean(tf.abs(err)) as tf.Scalar },
      };
    });
  }
}

/** An auxiliary with a momentum copy (post-step EMA is where such copies usually move). */
class WithTarget extends Brightness {
  override readonly name = "with-target";
  readonly target = this.momentumCopyOf("target", this.head);
}

const pullSpec = defineMethod({
  name: "pull",
  description: "test primary",
  family: "other",
  inputs: ["image"],
  options: none,
  create: (_o, ctx) => new Pull({}, ctx),
});
const brightnessSpec = defineMethod({
  name: "brightness",
  description: "test auxiliary",
  family: "pretext",
  inputs: ["image"],
  options: none,
  create: (_o, ctx) => new Brightness({}, ctx),
});

function batch(seed: number): TrainBatch {
  const x = tf.randomUniform([6, 8, 8, 1], 0, 1, "float32", seed);
  const a = tf.clipByValue(tf.add(x, tf.randomNormal(x.shape, 0, 0.1, "float32", seed + 1)), 0, 1);
  const b = tf.clipByValue(tf.add(x, tf.randomNormal(x.shape, 0, 0.1, "float32", seed + 2)), 0, 1);
  return { inputs: x, views: [a, b] };
}

/** A StepContext whose minimize records the gradients of the loss (no update). */
function gradientRecorder(method: Method) {
  const grads = new Map<tf.Variable, Float32Array>();
  const metrics: Record<string, number> = {};
  const ctx: StepContext = {
    step: 0,
    epoch: 0,
    totalSteps: 1,
    rng: new Rng(5),
    minimize(lossFn: () => LossOutput, vars?: tf.Variable[]) {
      const list = vars ?? method.trainableVariables();
      const { value, grads: g } = tf.variableGrads(() => {
        const out = lossFn();
        for (const [k, v] of Object.entries(out.metrics ?? {})) metrics[k] = v.dataSync()[0] as number;
        return out.loss;
      }, list);
      for (const v of list) {
        const t = g[v.name];
        grads.set(v, t ? (t.dataSync() as Float32Array).slice() : new Float32Array(v.size));
      }
      const loss = value.dataSync()[0] as number;
      tf.dispose([value, ...Object.values(g)]);
      return { loss, metrics: { ...metrics } };
    },
  };
  return { ctx, grads, metrics };
}

describe("composeMethods", () => {
  it("shares one backbone: both losses update it, and the combined gradient is the weighted sum", () => {
    const shared = sharedBackboneContext(convnetContext());
    const primary = new Pull({}, shared);
    const aux = new Brightness({}, shared);
    expect(aux.backbone).toBe(primary.backbone);
    const w = 0.5;
    const composite = composeMethods(primary, [{ method: aux, weight: w }]);
    // BatchNorm in eval mode, so that the three passes see identical normalisation
    primary.backbone.eval();
    const b = batch(1);
    const comb = gradientRecorder(composite);
    const onlyPrimary = gradientRecorder(primary);
    const onlyAux = gradientRecorder(aux);
    const out = composite.trainStep(b, comb.ctx);
    const lp = primary.trainStep(b, onlyPrimary.ctx).loss;
    const la = aux.trainStep(b, onlyAux.ctx).loss;
    expect(out.loss).toBeCloseTo(lp + w * la, 5);
    expect(out.metrics["primary.loss"]).toBeCloseTo(lp, 5);
    expect(out.metrics["aux.brightness.loss"]).toBeCloseTo(la, 5);
    expect(out.metrics["aux.brightness.err"]).toBeGreaterThan(0);
    expect(out.metrics.gap).toBeGreaterThan(0);
    const backboneVars = primary.backbone.trainableVariables();
    expect(backboneVars.length).toBeGreaterThan(0);
    const norm = (a: Float32Array) => Math.sqrt(a.reduce((s, v) => s + v * v, 0));
    for (const v of backboneVars) {
      const gp = onlyPrimary.grads.get(v) as Float32Array;
      const ga = onlyAux.grads.get(v) as Float32Array;
      const gc = comb.grads.get(v) as Float32Array;
      if (!v.name.includes("bias")) {
        // every weight of the shared backbone gets a gradient from each term alone
        expect(norm(gp)).toBeGreaterThan(0);
        expect(norm(ga)).toBeGreaterThan(0);
      }
      for (let i = 0; i < gc.length; i++)
        expect(gc[i] as number).toBeCloseTo((gp[i] as number) + w * (ga[i] as number), 5);
    }
    // the auxiliary's head gets only its own (weighted) gradient
    for (const v of aux.head.trainableVariables()) {
      const ga = onlyAux.grads.get(v) as Float32Array;
      const gc = comb.grads.get(v) as Float32Array;
      for (let i = 0; i < gc.length; i++) expect(gc[i] as number).toBeCloseTo(w * (ga[i] as number), 5);
    }
    tf.dispose([b.inputs, ...b.views]);
    composite.dispose();
  });

  it("lists the shared backbone once, prefixes the auxiliary's modules, merges variables without duplicates", () => {
    const m = composeMethodSpecs(pullSpec, {}, [{ spec: brightnessSpec, weight: 0.3 }], convnetContext());
    expect(Object.keys(m.modules()).sort()).toEqual(["backbone", "brightness.head", "head"]);
    const vars = m.trainableVariables();
    expect(new Set(vars).size).toBe(vars.length);
    const modules = Object.values(m.modules());
    expect(vars.length).toBe(modules.flatMap((x) => x.trainableVariables()).length);
    expect(m.views).toBe(2);
    expect(m.name).toBe("pull+brightness");
    m.dispose();
  });

  it("refuses auxiliaries with post-step state, with a reason, unless their spec says composable", () => {
    const shared = sharedBackboneContext(convnetContext());
    const primary = new Pull({}, shared);
    const risky = new WithTarget({}, shared);
    expect(() => composeMethods(primary, [{ method: risky, weight: 1 }])).toThrow(
      /cannot be an auxiliary: it has non-trainable module "target"/,
    );
    expect(() => composeMethods(primary, [{ method: risky, weight: 1, composable: false }])).toThrow(
      /composable: false/,
    );
    expect(() => composeMethods(primary, [{ method: risky, weight: 1, composable: true }])).not.toThrow();
    expect(() => composeMethods(primary, [{ method: risky, weight: -1, composable: true }])).toThrow(
      /weight/,
    );
    risky.dispose();
    primary.dispose();
  });

  it("refuses an auxiliary whose inputs do not include the run's", () => {
    const textOnly = defineMethod({ ...brightnessSpec, name: "text-only", inputs: ["text"] });
    expect(() => composeMethodSpecs(pullSpec, {}, [{ spec: textOnly, weight: 1 }], convnetContext())).toThrow(
      /auxiliary "text-only" takes text inputs, but this run's input is image/,
    );
  });

  it("shares the backbone with a method that asks for another image size when the backbone pools over space", () => {
    const shared = sharedBackboneContext(convnetContext());
    const whole = shared.buildBackbone();
    expect(
      shared.buildBackbone(undefined, undefined, { kind: "image", height: 4, width: 4, channels: 1 }),
    ).toBe(whole);
    // a fixed-size MLP cannot take 4x4 tiles: that method gets its own backbone
    const mlp = sharedBackboneContext(
      methodBuildContext({ registry, input, rng: new Rng(0), backbone: tinyEncoder }),
    );
    const own = mlp.buildBackbone();
    const tiles = mlp.buildBackbone(undefined, undefined, {
      kind: "image",
      height: 4,
      width: 4,
      channels: 1,
    });
    expect(tiles).not.toBe(own);
    expect(mlp.buildBackbone()).toBe(own);
    own.dispose();
    tiles.dispose();
    whole.dispose();
  });

  it("tells methods the run's backbone choice without building it, through the shared context too", () => {
    const choice = { name: "convnet", options: { width: 4 } };
    expect(convnetContext().backboneChoice).toEqual(choice);
    const shared = sharedBackboneContext(convnetContext());
    expect(shared.backboneChoice).toEqual(choice);
    expect(shared.shared()).toBeUndefined();
    // a backbone built by a function (test fixtures) has no choice to tell
    expect(
      methodBuildContext({ registry, input, rng: new Rng(0), backbone: tinyEncoder }).backboneChoice,
    ).toBe(undefined);
  });

  it("trains in the Trainer with the auxiliary's metrics reported", async () => {
    const m = composeMethodSpecs(pullSpec, {}, [{ spec: brightnessSpec, weight: 0.5 }], convnetContext());
    const seen: Array<Record<string, number>> = [];
    const data = tinyImageDataset({ size: 32 });
    const trainer = new Trainer({
      method: m,
      dataset: data,
      config: { epochs: 1, batchSize: 8, seed: 0 },
      augment: (x, n) => Array.from({ length: n }, () => x.clone()),
      callbacks: [{ onStepEnd: (s) => void seen.push(s.metrics) }],
    });
    const res = await trainer.fit();
    expect(res.losses.every(Number.isFinite)).toBe(true);
    expect(seen[0]).toHaveProperty("aux.brightness.loss");
    expect(seen[0]).toHaveProperty("primary.loss");
    m.dispose();
  });
});

// The composite passes core's conformance kit (checkpoint round trip, determinism, no leaks, ...)
describeMethodConformance(
  defineMethod({
    name: "pull-plus-brightness",
    description: "pull + 0.5 x brightness on one backbone",
    family: "other",
    inputs: ["image"],
    options: none,
    create: (_o, ctx) => composeMethodSpecs(pullSpec, {}, [{ spec: brightnessSpec, weight: 0.5 }], ctx),
  }),
  { input: { kind: "image", height: 8, width: 8, channels: 1 } },
);
