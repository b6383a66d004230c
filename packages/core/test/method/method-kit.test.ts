import { beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { initBackend } from "../../src/backend/init-backend.js";
import { createRegistry } from "../../src/builtin-plugin.js";
import {
  buildProjector,
  defaultBackboneFor,
  MethodBase,
  projectorWidthOptions,
  projectorWidths,
  requireViews,
  sizeOption,
  takesGenericBackbone,
  twoViews,
} from "../../src/method/index.js";
import { defineMethod, specsIn } from "../../src/plugin/define-plugin.js";
import type { StepContext, StepResult, TrainBatch } from "../../src/plugin/types.js";
import { Rng } from "../../src/rng.js";
import { tf } from "../../src/tf.js";
import { convnetContext, input } from "./helpers.js";

beforeAll(async () => {
  await initBackend("cpu");
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
    const m = new Toy({ dim: 8 }, convnetContext());
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
    expect(() => new Twice({ dim: 4 }, convnetContext())).toThrow(/module "projector" is declared twice/);
  });

  it("builds the same weights from the same seed (declaration order is the init order)", () => {
    const a = new Toy({ dim: 4 }, convnetContext(3));
    const b = new Toy({ dim: 4 }, convnetContext(3));
    const wa = a.trainableVariables().map((v) => Array.from(v.dataSync()));
    const wb = b.trainableVariables().map((v) => Array.from(v.dataSync()));
    expect(wa).toEqual(wb);
    a.dispose();
    b.dispose();
  });
});

describe("the kit's projector options, predictor and momentum encoder", () => {
  it("projectorWidthOptions: our defaults, the paper's widths in the descriptions; projectorWidths reads both shapes", () => {
    const schema = z.object(projectorWidthOptions({ hiddenDim: 4096, outputDim: 256 }, { predictor: true }));
    expect(schema.parse({})).toEqual({ projectorHiddenDim: 512, projectorOutputDim: 128 });
    expect(schema.shape.projectorHiddenDim.description).toBe(
      "hidden width of the projector and predictor (paper: 4096)",
    );
    expect(schema.shape.projectorOutputDim.description).toBe("output width of the projector (paper: 256)");
    expect(() => schema.parse({ projectorOutputDim: 2.5 })).toThrow();
    expect(() => schema.parse({ projectorHiddenDim: 0 })).toThrow();
    const own = z.object(
      projectorWidthOptions({ hiddenDim: 2048, outputDim: 128 }, { hiddenDim: 64, outputDim: 16 }),
    );
    expect(own.parse({})).toEqual({ projectorHiddenDim: 64, projectorOutputDim: 16 });
    expect(own.shape.projectorHiddenDim.description).toBe("hidden width of the projector (paper: 2048)");
    expect(sizeOption(4, "queue size").description).toBe("queue size");
    expect(projectorWidths({ projectorHiddenDim: 8, projectorOutputDim: 4 })).toEqual({
      hiddenDim: 8,
      outputDim: 4,
    });
    expect(projectorWidths({ projectorDim: 6 })).toEqual({ hiddenDim: 6, outputDim: 6 });
  });

  class Siamese extends MethodBase {
    readonly views = 2;
    readonly backbone = this.addBackbone();
    readonly projector = this.addProjector({ layers: 2, hiddenDim: 8, outputDim: 4, batchNorm: false });
    readonly predictor = this.addPredictor(6);
    readonly key = this.addMomentumEncoder("key");
    trainStep(): StepResult {
      throw new Error("not trained here");
    }
  }

  it("declares predictor and copies in order; the copies are not trained, embed like the online pair and follow the EMA", () => {
    const m = new Siamese({}, convnetContext());
    expect(Object.keys(m.modules())).toEqual([
      "backbone",
      "projector",
      "predictor",
      "keyBackbone",
      "keyProjector",
    ]);
    expect(m.predictor.outputDim).toBe(4); // back to the projection's width
    const trainable = m.trainableVariables();
    for (const copy of [m.key.backbone, m.key.projector])
      for (const p of copy.namedParameters()) {
        expect(p.variable.trainable).toBe(false);
        expect(trainable).not.toContain(p.variable);
      }
    const x = tf.randomUniform([4, 8, 8, 1], 0, 1, "float32", 1);
    const online = tf.tidy(() => m.projector.forward(m.backbone.forward(x)));
    const copied = m.key.embed(x);
    expect(tf.max(tf.abs(tf.sub(online, copied))).dataSync()[0]).toBe(0);
    // theta_copy <- 0.75 theta_copy + 0.25 theta_online, with the online weights set to 1
    const [onlineWeight] = m.projector.namedParameters();
    const [copyWeight] = m.key.projector.namedParameters();
    const before = Array.from(copyWeight!.variable.dataSync());
    onlineWeight!.variable.assign(tf.onesLike(onlineWeight!.variable));
    m.key.update(0.75);
    const after = Array.from(copyWeight!.variable.dataSync());
    for (const [i, v] of after.entries()) expect(v).toBeCloseTo(0.75 * (before[i] as number) + 0.25, 6);
    tf.dispose([x, online, copied]);
    m.dispose();
  });

  it("addPredictor and addMomentumEncoder need a projector first", () => {
    class NoProjector extends MethodBase {
      readonly views = 2;
      readonly backbone = this.addBackbone();
      readonly predictor = this.addPredictor(6);
      trainStep(): StepResult {
        throw new Error("not trained here");
      }
    }
    expect(() => new NoProjector({}, convnetContext())).toThrow(
      /addPredictor needs a projector \(call addProjector\)/,
    );
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
    const m = r.create("method", "toy", toySpec.tinyOptions, convnetContext());
    expect(m).toBeInstanceOf(Toy);
    expect((m as Toy).options).toEqual({ dim: 4 });
    m.dispose();
    expect(() => r.create("method", "toy", { dim: -1 }, convnetContext())).toThrow(/dim/);
    const backbone = r.create("backbone", "convnet", { width: 4 }, input, new Rng(0));
    expect(backbone.outputDim).toBeGreaterThan(0);
    backbone.dispose();
  });

  it("a method's name is its spec's, and a spec that builds a differently named method is refused", () => {
    const m = toySpec.create({ dim: 4 }, convnetContext());
    expect(m.name).toBe("toy");
    m.dispose();
    class Misnamed extends Toy {
      override readonly name = "not-toy";
    }
    const misnamed = defineMethod({ ...toySpec, create: (opts, c) => new Misnamed(opts, c) });
    expect(() => misnamed.create({ dim: 4 }, convnetContext())).toThrow(
      /method spec "toy" built a method named "not-toy"/,
    );
  });

  it("specsIn collects a module's specs of one kind (made by define*), by name", () => {
    const other = defineMethod({ ...toySpec, name: "another" });
    const exports = { toySpec, other, again: toySpec, toyOptions, Toy, plain: { ...toySpec, name: "plain" } };
    expect(specsIn("method", exports).map((s) => s.name)).toEqual(["another", "toy"]);
    expect(specsIn("loss", exports)).toEqual([]);
  });

  it("methodBuildContext builds the run's backbone by default and any registered one by name", () => {
    const c = convnetContext();
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
