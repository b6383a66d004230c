import { beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { builtinAugmentations } from "../../src/augment/builtins.js";
import { initBackend } from "../../src/backend/init-backend.js";
import { defineAugmentation, defineLoss } from "../../src/plugin/define-plugin.js";
import {
  checkAugmentationConformance,
  checkLossConformance,
  describeAugmentationConformance,
} from "../../src/testing/index.js";
import { tf } from "../../src/tf.js";

// Every built-in image augmentation passes the kit (token/patch ops need other inputs).
const IMAGE_OPS = new Set(["jigsaw", "mask-patches"]);
for (const spec of builtinAugmentations) {
  if (IMAGE_OPS.has(spec.name)) continue;
  describeAugmentationConformance(spec, { inputShape: [4, 16, 16, 3] });
}

const mse = defineLoss({
  name: "mse",
  description: "mean squared difference",
  options: z.object({}),
  create: () => (a, b) => tf.mean(tf.square(tf.sub(a as tf.Tensor, b as tf.Tensor))) as tf.Scalar,
});

/** A loss whose custom gradient is off by a factor of 2: the kit must catch it. */
const wrongGradient = defineLoss({
  name: "wrong-gradient",
  description: "sum of squares with a wrong gradient",
  options: z.object({}),
  create: () => {
    const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
      const x = args[0] as tf.Tensor;
      return {
        value: tf.sum(tf.square(x)) as tf.Scalar,
        gradFunc: (dy: tf.Tensor) => tf.mul(dy, tf.mul(x, 4)),
      };
    });
    return (x) => f(x as tf.Tensor) as tf.Scalar;
  },
});

const leaky = defineAugmentation({
  name: "leaky",
  description: "leaks one tensor per call",
  options: z.object({}),
  create: () => ({
    name: "leaky",
    apply: (x) => {
      tf.ones([1]); // never disposed
      return tf.clone(x);
    },
  }),
});

const unseeded = defineAugmentation({
  name: "unseeded",
  description: "noise from Math.random, ignoring the rng",
  options: z.object({}),
  create: () => ({
    name: "unseeded",
    apply: (x) =>
      tf.tidy(() => tf.add(x, tf.randomNormal(x.shape, 0, 1, "float32", Math.floor(Math.random() * 1e9)))),
  }),
});

describe("loss and augmentation conformance checks", () => {
  beforeAll(async () => {
    await initBackend("cpu");
  });

  it("passes a correct loss and catches a wrong gradient", () => {
    expect(() =>
      checkLossConformance(mse, {
        inputShapes: [
          [4, 3],
          [4, 3],
        ],
      }),
    ).not.toThrow();
    expect(() => checkLossConformance(wrongGradient, { inputShapes: [[5]] })).toThrow(
      /finite differences give/,
    );
  });

  it("catches a leak and an augmentation that ignores its rng", () => {
    expect(() => checkAugmentationConformance(leaky)).toThrow(/leaked 1 tensor/);
    expect(() => checkAugmentationConformance(unseeded)).toThrow(/different outputs for the same rng seed/);
  });
});
