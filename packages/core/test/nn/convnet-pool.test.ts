import { beforeAll, describe, expect, it } from "vitest";
import { convNetBackbone, Rng } from "../../src/index.js";
import { tf } from "../../src/tf.js";
import "@tensorflow/tfjs-backend-cpu";

describe("convnet pool option", () => {
  beforeAll(async () => {
    await tf.setBackend("cpu");
  });

  it("flatten keeps the last map: outputDim = channels·h·w and values equal the unpooled map", () => {
    const input = { kind: "image" as const, height: 28, width: 28, channels: 1 };
    const flat = convNetBackbone.build(
      convNetBackbone.options.parse({ width: 4, pool: "flatten" }),
      input,
      new Rng(3),
    );
    const avg = convNetBackbone.build(convNetBackbone.options.parse({ width: 4 }), input, new Rng(3));
    expect(flat.outputDim).toBe(16 * 4 * 4); // 28 -> 14 -> 7 -> 4, 16 channels
    expect(avg.outputDim).toBe(16);
    flat.eval();
    avg.eval();
    const x = tf.randomUniform([2, 28, 28, 1], 0, 1, "float32", 5);
    const f = flat.forward(x);
    const a = avg.forward(x);
    expect(f.shape).toEqual([2, 256]);
    // same seed, same weights: averaging the flattened map over its 16 positions gives the pooled vector
    const pooled = tf.mean(tf.reshape(f, [2, 16, 16]), 1);
    const diff = tf.max(tf.abs(tf.sub(pooled, a))).dataSync()[0]!;
    expect(diff).toBeLessThan(1e-5);
  });
});
