import { initBackend, Rng, tf } from "@selfsup/core";
import { createMethod } from "@selfsup/core/testing";
import { beforeAll, describe, expect, it } from "vitest";
import { rotationBatch, rotationMethod } from "../src/index.js";

beforeAll(async () => {
  await initBackend("cpu");
});

describe("rotation", () => {
  it("puts the four rotations of each image in one batch with labels 0..3 built from the batch shape", () => {
    // two 2x2 images: [[1,2],[3,4]] and [[5,6],[7,8]]
    const x = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 2, 1]);
    const { images, labels } = rotationBatch(x);
    expect(images.shape).toEqual([8, 2, 2, 1]);
    expect(Array.from(labels.dataSync())).toEqual([0, 0, 1, 1, 2, 2, 3, 3]);
    const img = images.arraySync() as number[][][][];
    const flat = (i: number) => (img[i] as number[][][]).flat(2);
    expect(flat(0)).toEqual([1, 2, 3, 4]);
    // a quarter turn counter-clockwise: the right column becomes the top row
    expect(flat(2)).toEqual([2, 4, 1, 3]);
    expect(flat(4)).toEqual([4, 3, 2, 1]);
    expect(flat(6)).toEqual([3, 1, 4, 2]);
    expect(flat(5)).toEqual([8, 7, 6, 5]);
    tf.dispose([x, images, labels]);
  });

  it("refuses non-square images with a clear error", () => {
    const x = tf.zeros([1, 4, 6, 1]);
    expect(() => rotationBatch(x)).toThrow(/square images, got 4x6/);
    x.dispose();
  });

  it("never reads dataset labels: a step gives the same loss with and without them", () => {
    const m = createMethod(rotationMethod, { input: { kind: "image", height: 8, width: 8, channels: 1 } });
    const x = tf.randomUniform([4, 8, 8, 1], 0, 1, "float32", 1);
    const losses: number[] = [];
    for (const labels of [undefined, tf.tensor1d([3, 1, 2, 0], "int32")]) {
      const batch = labels ? { inputs: x, views: [], labels } : { inputs: x, views: [] };
      m.trainStep(batch, {
        step: 0,
        epoch: 0,
        totalSteps: 1,
        rng: new Rng(0),
        minimize: (f) => {
          const out = tf.tidy(() => f().loss.dataSync()[0] as number);
          losses.push(out);
          return { loss: out, metrics: {} };
        },
      });
      labels?.dispose();
    }
    expect(losses[0]).toBe(losses[1]);
    x.dispose();
    m.dispose();
  });
});
