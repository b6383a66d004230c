import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createRegistry, definePlugin, type MethodSpec } from "@selfsup/core";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  applyFlags,
  ConfigError,
  loadRunConfig,
  parseRunConfig,
  parseStoredRunConfig,
  resolveRunConfig,
} from "../src/config.js";

function fakeRegistry() {
  const registry = createRegistry();
  const method: MethodSpec = {
    name: "toy",
    description: "a toy method",
    family: "other",
    inputs: ["image"],
    options: z.strictObject({ temperature: z.number().positive().default(0.5) }),
    create() {
      throw new Error("not built in config tests");
    },
  };
  const dataset = {
    name: "toyset",
    description: "a toy dataset",
    options: z.strictObject({ size: z.number().int().default(10) }),
    async load() {
      throw new Error("not loaded in config tests");
    },
  };
  const backbone = {
    name: "toynet",
    description: "a toy backbone",
    options: z.strictObject({ width: z.number().int().min(1).default(8) }),
    build() {
      throw new Error("not built in config tests");
    },
  };
  registry.register(
    definePlugin({ name: "toy-plugin", methods: [method], datasets: [dataset], backbones: [backbone] }),
  );
  return registry;
}

function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error("expected a ConfigError");
}

describe("run config", () => {
  it("fills every default from a minimal config", () => {
    const c = parseRunConfig({ method: { name: "toy" }, dataset: { name: "toyset" } });
    expect(c.training).toMatchObject({
      epochs: 1,
      batchSize: 64,
      optimizer: { name: "adam", lr: 1e-3, weightDecay: 0 },
      schedule: { name: "cosine", warmupEpochs: 0, minLr: 0 },
      accumulate: 1,
      seed: 0,
    });
    expect(c.eval).toMatchObject({
      knn: true,
      linear: false,
      everyEpochs: 1,
      fewLabel: { labelsPerClass: [], seeds: [0] },
    });
    expect(c.backend).toBe("auto");
    expect(c.tags).toEqual([]);
  });

  it("names the field path, the bad value and the allowed range", () => {
    const msg = messageOf(() =>
      parseRunConfig({ method: { name: "toy" }, dataset: { name: "toyset" }, training: { epochs: 0 } }),
    );
    expect(msg).toContain("training.epochs");
    expect(msg).toContain("(got 0)");
    expect(msg).toMatch(/>=\s?1/);
  });

  it("lists the allowed values of an enum", () => {
    const msg = messageOf(() =>
      parseRunConfig({
        method: { name: "toy" },
        dataset: { name: "toyset" },
        training: { optimizer: "rmsprop" },
      }),
    );
    expect(msg).toContain("training.optimizer");
    expect(msg).toContain('(got "rmsprop")');
    for (const o of ["sgd", "adam", "adamw", "lars"]) expect(msg).toContain(o);
  });

  it("refuses an unknown field and lists the allowed ones there", () => {
    const msg = messageOf(() =>
      parseRunConfig({ method: { name: "toy" }, dataset: { name: "toyset" }, training: { epoch: 3 } }),
    );
    expect(msg).toContain("training.epoch: unknown field");
    expect(msg).toContain("epochs, maxSteps, batchSize");
    expect(msg).toContain("(got 3)");
  });

  it("reports a missing method", () => {
    const msg = messageOf(() => parseRunConfig({ dataset: { name: "toyset" } }));
    expect(msg).toContain("method");
  });

  it("lists the installed names when a method, dataset or backbone is unknown", () => {
    const registry = fakeRegistry();
    const cfg = (over: Record<string, unknown>) =>
      parseRunConfig({ method: { name: "toy" }, dataset: { name: "toyset" }, ...over });
    expect(messageOf(() => resolveRunConfig(cfg({ method: { name: "simclrr" } }), registry))).toMatch(
      /method\.name: unknown method "simclrr"; installed methods: toy/,
    );
    expect(messageOf(() => resolveRunConfig(cfg({ dataset: { name: "mnistt" } }), registry))).toMatch(
      /dataset\.name: unknown dataset "mnistt"; installed datasets: .*toyset/,
    );
    expect(messageOf(() => resolveRunConfig(cfg({ backbone: { name: "resnet9000" } }), registry))).toMatch(
      /backbone\.name: unknown backbone "resnet9000"; installed backbones: .*toynet/,
    );
  });

  it("validates plugin options with their own schema, under the config's path", () => {
    const registry = fakeRegistry();
    const c = parseRunConfig({
      method: { name: "toy", options: { temperature: -1 } },
      dataset: { name: "toyset" },
      backbone: { name: "toynet" },
    });
    const msg = messageOf(() => resolveRunConfig(c, registry));
    expect(msg).toContain("method.options.temperature");
    expect(msg).toContain("(got -1)");
    const ok = resolveRunConfig(
      parseRunConfig({ method: { name: "toy" }, dataset: { name: "toyset" }, backbone: { name: "toynet" } }),
      registry,
    );
    expect(ok.method.options).toEqual({ temperature: 0.5 });
    expect(ok.backbone).toEqual({ name: "toynet", options: { width: 8 } });
    expect(ok.dataset.options).toEqual({ size: 10 });
  });

  it("maps flags onto fields, flags winning over the file", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "selfsup-config-"));
    const file = path.join(dir, "run.yaml");
    await writeFile(
      file,
      "method:\n  name: toy\ndataset:\n  name: toyset\n  limit: 100\ntraining:\n  epochs: 5\n  lr: 0.1\ntags: [a]\n",
    );
    const c = await loadRunConfig(file, {
      epochs: "2",
      limit: "16",
      batchSize: "8",
      tag: ["b"],
      set: ["training.clipGradNorm=1.5"],
    });
    expect(c.training.epochs).toBe(2);
    expect(c.training.optimizer.lr).toBe(0.1); // the file's pre-0.2 flat `lr`, migrated
    expect(c.training.batchSize).toBe(8);
    expect(c.training.clipGradNorm).toBe(1.5);
    expect(c.dataset.limit).toBe(16);
    expect(c.tags).toEqual(["a", "b"]);
  });

  it("keeps a non-numeric flag as text so the error shows what was typed", async () => {
    await expect(
      loadRunConfig(undefined, { method: "toy", dataset: "toyset", epochs: "two" }),
    ).rejects.toThrow(/training\.epochs: .*\(got "two"\)/);
    expect(applyFlags({}, { lr: "1e-3" })).toEqual({ training: { optimizer: { lr: 0.001 } } });
  });

  it("explains an unreadable or malformed config file", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "selfsup-config-"));
    await expect(loadRunConfig(path.join(dir, "missing.yaml"), {})).rejects.toThrow(
      /config file .*missing\.yaml does not exist/,
    );
    const bad = path.join(dir, "bad.json");
    await writeFile(bad, "{ method: ");
    await expect(loadRunConfig(bad, {})).rejects.toThrow(/not valid JSON/);
  });
});

describe("one training config (core's TrainConfig schema)", () => {
  it("every core training option can be set with --set and reaches the optimizer and schedule", async () => {
    const c = await loadRunConfig(undefined, {
      method: "toy",
      dataset: "toyset",
      optimizer: "adamw",
      lr: "0.01",
      set: [
        "training.optimizer.beta1=0.8",
        "training.optimizer.beta2=0.99",
        "training.optimizer.eps=1e-6",
        "training.schedule.name=constant",
        "training.schedule.warmupSteps=2",
      ],
    });
    const { initBackend, Trainer } = await import("@selfsup/core");
    await initBackend("cpu");
    const { tinyImageDataset, toyAutoencoderSpec, tinyBuildContext } = await import("@selfsup/core/testing");
    const { Rng } = await import("@selfsup/core");
    const dataset = tinyImageDataset({ height: 4, width: 4, channels: 1 });
    const method = toyAutoencoderSpec.create({ noise: 0 }, tinyBuildContext(dataset.input, new Rng(0)));
    const trainer = new Trainer({ method, dataset, config: c.training });
    expect(trainer.optimizer.name).toBe("adamw");
    expect(trainer.optimizer).toMatchObject({ beta1: 0.8, beta2: 0.99, eps: 1e-6 });
    expect(trainer.schedule(0)).toBeCloseTo(0.005, 10); // step 0 of a 2-step warmup to a constant 0.01
    expect(trainer.schedule(50)).toBeCloseTo(0.01, 10);
    method.dispose();
  });

  it("refuses an unknown training field and lists the allowed ones", () => {
    expect(() =>
      parseRunConfig({
        method: { name: "m" },
        dataset: { name: "d" },
        training: { optimizer: { beta3: 1 } },
      }),
    ).toThrow(/training\.optimizer\.beta3: unknown field; allowed here: name, lr, weightDecay/);
  });

  it("reads a stored config of the old flat shape through the same schema, and explains a broken one", () => {
    const old = {
      method: { name: "simclr", options: {} },
      dataset: { name: "mnist", options: {} },
      training: {
        epochs: 2,
        batchSize: 32,
        optimizer: "adamw",
        lr: 0.003,
        weightDecay: 0.0001,
        warmup: 5,
        seed: 1,
      },
    };
    const c = parseStoredRunConfig(old, "r1");
    expect(c.training.optimizer).toMatchObject({ name: "adamw", lr: 0.003, weightDecay: 0.0001 });
    expect(c.training.schedule).toMatchObject({ name: "cosine", warmupSteps: 5 });
    expect(c.training.epochs).toBe(2);
    expect(() => parseStoredRunConfig({ ...old, training: { epochs: "many" } }, "r2")).toThrow(
      /stored config of run r2[\s\S]*training\.epochs[\s\S]*incompatible selfsup version/,
    );
  });
});

describe("--set field paths", () => {
  it("refuses __proto__, constructor and prototype segments before touching any object", () => {
    for (const bad of [
      "__proto__.polluted=1",
      "training.__proto__.polluted=1",
      "constructor.prototype.polluted=1",
    ]) {
      expect(() => applyFlags({}, { set: [bad] })).toThrow(ConfigError);
      expect(() => applyFlags({}, { set: [bad] })).toThrow(/is not allowed as a field name/);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    }
  });
});
