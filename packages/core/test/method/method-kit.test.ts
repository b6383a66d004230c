import { beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { initBackend } from "../../src/backend/init-backend.js";
import { createRegistry } from "../../src/builtin-plugin.js";
import {
  buildProjector,
  defaultBackboneFor,
  MethodBase,
  methodBuildContext,
  requireViews,
  takesGenericBackbone,
  twoViews,
} from "../../src/method/index.js";
import { defineMethod } from "../../src/plugin/define-plugin.js";
import type { StepContext, StepResult, TrainBatch } from "../../src/plugin/types.js";
import { Rng } from "../../src/rng.js";
import { tf } from "../../src/tf.js";

beforeAll(async () => {
  await initBackend("cpu");
});

const registry = createRegistry();
const input = { kind: "image", height: 8, width: 8, channels: 1 } as const;
const ctx = (seed = 0) =>
  methodBuildContext({
    registry,
    input,
    rng: new Rng(seed),
    backbone: { name: "convnet", options: { width: 4 } },
  });

const toyOptions = z.object({ dim: z.number().int().positive().default(8) });

/** A method declared only through the kit: a backbone, a projector and a momentum copy. */
class Toy extends MethodBase<z.output<typeof toyOptions>> {
  readonly views = 2;
  readonly backbone = this.addBackbone();
  readonly projector = this.module(
    "projector",
    buildProjector(this.ctx, this.backbone.outputDim, {
      layers: 2,
      hiddenDim: this.options.dim,
      outputDim: this.options.dim,
      batchNorm: false,
    }),
  );
  readonly target = this.momentumCopyOf("target", this.projector);
  readonly counter = this.stateVariable(
    "counter",
    tf.tidy(() => tf.variable(tf.scalar(0, "int32"), false)),
  );

  trainStep(batch: TrainBatch, step: StepContext): StepResult {
    const [a] = twoViews(batch, this.name);
    return step.minimize(() => ({
      loss: tf.mean(this.projector.forward(this.backbone.forward(a))) as tf.Scalar,
    }));
  }
}

const toySpec = defineMethod({
  name: "toy",
  description: "kit test method",
  family: "other",
  inputs: ["image"],
  options: toyOptions,
  tinyOptions: { dim: 4 },
  create: (opts, c) => new Toy(opts, c),
});

describe("MethodBase", () => {
  it("derives modules, trainable variables, state, encoder and dispose from the declarations", () => {
    const before = tf.memory().numTensors;
    const m = new Toy({ dim: 8 }, ctx());
    expect(Object.keys(m.modules())).toEqual(["backbone", "projector", "target"]);
    expect(m.encoder()).toBe(m.backbone);
    const trainable = m.trainableVariables();
    expect(trainable).toEqual([...m.backbone.trainableVariables(), ...m.projector.trainableVariables()]);
    // the momentum copy is checkpointed but never trained
    for (const v of m.target.trainableVariables()) expect(trainable).not.toContain(v);
    expect(m.target.namedParameters().every((p) => !p.variable.trainable)).toBe(true);
    expect(Object.keys(m.state())).toEqual(["counter"]);
    expect(m.defaultAugmentation(input).length).toBeGreaterThan(0);
    m.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it("refuses a module name declared twice", () => {
    class Twice extends Toy {
      readonly again = this.module("projector", this.projector);
    }
    expect(() => new Twice({ dim: 4 }, ctx())).toThrow(/module "projector" is declared twice/);
  });

  it("builds the same weights from the same seed (declaration order is the init order)", () => {
    const a = new Toy({ dim: 4 }, ctx(3));
    const b = new Toy({ dim: 4 }, ctx(3));
    const wa = a.trainableVariables().map((v) => Array.from(v.dataSync()));
    const wb = b.trainableVariables().map((v) => Array.from(v.dataSync()));
    expect(wa).toEqual(wb);
    a.dispose();
    b.dispose();
  });
});

describe("views", () => {
  it("names the method and the count when views are missing", () => {
    const x = tf.zeros([2, 8, 8, 1]);
    expect(() => requireViews({ inputs: x, views: [x] }, 2, "toy")).toThrow(
      /toy needs 2 augmented views.*has 1/,
    );
    x.dispose();
  });
});

describe("typed specs and registry.create", () => {
  it("keeps a spec's option type and builds through the registry with parsed defaults", () => {
    const r = createRegistry();
    r.register({ name: "kit-test", apiVersion: 1, methods: [toySpec] });
    const m = r.create("method", "toy", toySpec.tinyOptions, ctx());
    expect(m).toBeInstanceOf(Toy);
    expect((m as Toy).options).toEqual({ dim: 4 });
    m.dispose();
    expect(() => r.create("method", "toy", { dim: -1 }, ctx())).toThrow(/dim/);
    const backbone = r.create("backbone", "convnet", { width: 4 }, input, new Rng(0));
    expect(backbone.outputDim).toBeGreaterThan(0);
    backbone.dispose();
  });

  it("a method's name is its spec's, and a spec that builds a differently named method is refused", () => {
    const m = toySpec.create({ dim: 4 }, ctx());
    expect(m.name).toBe("toy");
    m.dispose();
    class Misnamed extends Toy {
      override readonly name = "not-toy";
    }
    const misnamed = defineMethod({ ...toySpec, create: (opts, c) => new Misnamed(opts, c) });
    expect(() => misnamed.create({ dim: 4 }, ctx())).toThrow(
      /method spec "toy" built a method named "not-toy"/,
    );
  });

  it("methodBuildContext builds the run's backbone by default and any registered one by name", () => {
    const c = ctx();
    const own = c.buildBackbone();
    const vit = c.buildBackbone("vit-tiny", {});
    expect(own.constructor.name).not.toBe(vit.constructor.name);
    own.dispose();
    vit.dispose();
  });

  it("picks default backbones by input", () => {
    expect(defaultBackboneFor(input).name).toBe("convnet");
    expect(defaultBackboneFor({ kind: "image", height: 32, width: 32, channels: 3 }).name).toBe("resnet18");
    expect(defaultBackboneFor({ kind: "text", vocabSize: 10, seqLen: 4 }).name).toBe("text-transformer");
  });

  it("tells methods that take any image backbone from those that need their own", () => {
    expect(takesGenericBackbone({}, input)).toBe(true);
    expect(takesGenericBackbone({ defaultBackbone: defaultBackboneFor }, input)).toBe(true);
    expect(takesGenericBackbone({ defaultBackbone: () => ({ name: "vit-tiny" }) }, input)).toBe(false);
  });
});
