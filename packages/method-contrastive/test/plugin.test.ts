import { readFileSync } from "node:fs";
import { createRegistry, defaultPipelineFor, tf } from "@selfsup/core";
import { beforeAll, describe, expect, it } from "vitest";
import plugin from "../src/plugin.js";
import { createMethod, randomViews, registry, setupBackend, stepContext } from "./helpers.js";

beforeAll(setupBackend);

const METHODS = plugin.methods?.map((m) => m.name) ?? [];
// the two-view methods; DINO and iBOT cut their own multi-crop views (views = 0, dino/ibot.test.ts)
const TWO_VIEW = METHODS.filter((m) => m !== "dino" && m !== "ibot");

describe("plugin", () => {
  it("default-exports its methods and losses, registrable next to core's built-ins", () => {
    expect(plugin.name).toBe("@selfsup/method-contrastive");
    const r = createRegistry();
    r.register(plugin);
    expect(METHODS).toEqual(
      expect.arrayContaining([
        "barlow-twins",
        "byol",
        "dino",
        "ibot",
        "moco",
        "nnclr",
        "simclr",
        "simsiam",
        "vicreg",
      ]),
    );
    expect(r.list("method").map((e) => e.spec.name)).toEqual([...METHODS].sort());
    expect(r.list("loss").map((e) => e.spec.name)).toEqual([
      "barlow-twins",
      "dino",
      "ibot-patch",
      "info-nce",
      "moco-v3",
      "negative-cosine",
      "nnclr",
      "nt-xent",
      "vicreg",
    ]);
    for (const e of r.list("method")) {
      expect(e.spec.family).toBe("contrastive");
      expect(e.spec.paper?.url).toMatch(/^https:\/\/arxiv\.org\/abs\//);
    }
  });

  it("is discoverable: package.json names dist/plugin.js and exports ./plugin", () => {
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
    expect(pkg.selfsup.plugin).toBe("./dist/plugin.js");
    expect(pkg.exports["./plugin"].import).toBe("./dist/plugin.js");
  });

  it("reports a bad option by its field", () => {
    expect(() => registry.parseOptions("method", "moco", { queueSize: -4 })).toThrow(/queueSize/);
    expect(() => registry.parseOptions("method", "simclr", { temperature: 0 })).toThrow(/temperature/);
  });
});

describe.each(TWO_VIEW)("%s", (name) => {
  it("asks for 2 views and recommends a digit-safe pipeline for gray images, SimCLR's for RGB", () => {
    const m = createMethod(name);
    expect(m.views).toBe(2);
    const gray = m.defaultAugmentation?.({ kind: "image", height: 28, width: 28, channels: 1 }) ?? [];
    expect(gray.map((s) => s.name)).toContain("random-resized-crop");
    expect(gray.map((s) => s.name)).not.toContain("horizontal-flip");
    const rgb = { kind: "image", height: 32, width: 32, channels: 3 } as const;
    expect(m.defaultAugmentation?.(rgb)).toEqual(defaultPipelineFor(rgb));
    m.dispose();
  });

  it("trains a BatchNorm convnet with finite losses and no tensor leak per step", () => {
    const m = createMethod(name);
    const ctx = stepContext(m, { lr: 0.01 });
    const counts: number[] = [];
    for (let i = 0; i < 4; i++) {
      const views = randomViews(8, 100 + i);
      const r = m.trainStep({ inputs: views[0], views }, ctx);
      tf.dispose(views);
      expect(Number.isFinite(r.loss)).toBe(true);
      for (const v of Object.values(r.metrics)) expect(Number.isFinite(v)).toBe(true);
      counts.push(tf.memory().numTensors);
    }
    expect(counts[3]).toBe(counts[1]);
    ctx.minimizer.dispose();
    m.dispose();
  });

  it("says what is missing when given one view", () => {
    const m = createMethod(name);
    const [x] = randomViews(4, 1);
    expect(() => m.trainStep({ inputs: x, views: [x] }, stepContext(m))).toThrow(/needs 2 augmented views/);
    x.dispose();
    m.dispose();
  });
});
