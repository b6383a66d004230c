import { describe, expect, it } from "vitest";
import { z } from "zod";
import { API_VERSION, defineLoss, definePlugin, Registry } from "../../src/index.js";
import { tf } from "../../src/tf.js";

const mse = (name: string) =>
  defineLoss({
    name,
    description: "mean squared error",
    options: z.object({ scale: z.number().positive().default(1) }),
    create: (o) => (a, b) => tf.mul(o.scale, tf.losses.meanSquaredError(a!, b!)) as tf.Scalar,
  });

describe("Registry", () => {
  it("registers, gets and lists contributions by kind", () => {
    const r = new Registry();
    r.register(definePlugin({ name: "plugin-a", losses: [mse("mse"), mse("abs")] }));
    expect(r.list("loss").map((e) => e.spec.name)).toEqual(["abs", "mse"]);
    expect(r.get("loss", "mse").description).toBe("mean squared error");
    expect(r.entry("loss", "mse").plugin).toBe("plugin-a");
    expect(r.list("method")).toEqual([]);
  });

  it("refuses a duplicate name with an error naming both plugins", () => {
    const r = new Registry();
    r.register(definePlugin({ name: "plugin-a", losses: [mse("mse")] }));
    expect(() => r.register(definePlugin({ name: "plugin-b", losses: [mse("other"), mse("mse")] }))).toThrow(
      /loss "mse" from plugin "plugin-b" clashes with loss "mse" already registered by plugin "plugin-a"/,
    );
    // all or nothing: plugin-b's first loss was not added
    expect(r.has("loss", "other")).toBe(false);
  });

  it("refuses an incompatible apiVersion clearly", () => {
    const r = new Registry();
    expect(() => r.register(definePlugin({ name: "old-plugin", apiVersion: API_VERSION + 7 }))).toThrow(
      new RegExp(
        `"old-plugin" targets selfsup plugin API version ${API_VERSION + 7}.*implements version ${API_VERSION}`,
      ),
    );
  });

  it("names the installed contributions when a name is unknown", () => {
    const r = new Registry();
    r.register(definePlugin({ name: "plugin-a", losses: [mse("mse")] }));
    expect(() => r.get("loss", "nope")).toThrow(/unknown loss "nope"; installed losss?: mse/);
  });

  it("parses options with defaults and names the bad field", () => {
    const r = new Registry();
    r.register(definePlugin({ name: "plugin-a", losses: [mse("mse")] }));
    expect(r.parseOptions("loss", "mse", {})).toEqual({ scale: 1 });
    expect(() => r.parseOptions("loss", "mse", { scale: -2 })).toThrow(/scale: .*\(got -2\)/);
  });

  it("refuses a contribution whose schema has no defaults", () => {
    const r = new Registry();
    const bad = defineLoss({
      name: "bad",
      description: "needs a value",
      options: z.object({ required: z.number() }),
      create: () => () => tf.scalar(0),
    });
    expect(() => r.register(definePlugin({ name: "p", losses: [bad] }))).toThrow(/must accept \{\}/);
  });
});
