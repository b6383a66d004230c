import "@tensorflow/tfjs-backend-cpu";
import { beforeAll, describe, expect, it } from "vitest";
import { tf } from "../../src/tf.js";
import { clipByGlobalNorm, globalNormValue } from "../../src/train/clip.js";
import { constantLr, warmupCosine } from "../../src/train/schedule.js";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

describe("warmupCosine", () => {
  it("warms up linearly, then follows half a cosine down to minLr", () => {
    const lr = warmupCosine({ baseLr: 1, totalSteps: 14, warmupSteps: 4, minLr: 0.1 });
    expect([0, 1, 2, 3].map(lr)).toEqual([0.25, 0.5, 0.75, 1]);
    expect(lr(4)).toBeCloseTo(1, 12); // cosine starts at the peak
    // step 9: progress (9 - 4) / 10 = 0.5 -> 0.1 + 0.9 * 0.5 = 0.55
    expect(lr(9)).toBeCloseTo(0.55, 12);
    // step 6: progress 0.2 -> 0.1 + 0.9 * (1 + cos(0.2 pi)) / 2 = 0.1 + 0.45 * 1.809017 = 0.914058
    expect(lr(6)).toBeCloseTo(0.9140576, 6);
    expect(lr(14)).toBeCloseTo(0.1, 12);
    expect(lr(100)).toBeCloseTo(0.1, 12);
  });

  it("without warmup starts at the base rate", () => {
    const lr = warmupCosine({ baseLr: 0.3, totalSteps: 10 });
    expect(lr(0)).toBeCloseTo(0.3, 12);
    expect(lr(5)).toBeCloseTo(0.15, 12);
  });

  it("constant schedule with warmup", () => {
    const lr = constantLr(2, 2);
    expect([0, 1, 2, 50].map(lr)).toEqual([1, 2, 2, 2]);
  });
});

describe("clipByGlobalNorm", () => {
  it("scales all gradients together to the max norm", () => {
    const a = tf.tensor1d([3, 0]);
    const b = tf.tensor2d([[0, 4]]);
    expect(globalNormValue([a, b])).toBeCloseTo(5, 6);
    const { grads, norm } = clipByGlobalNorm([a, b], 1);
    expect(norm).toBeCloseTo(5, 6);
    expect(Array.from(grads[0]!.dataSync())[0]).toBeCloseTo(0.6, 5);
    expect(Array.from(grads[1]!.dataSync())[1]).toBeCloseTo(0.8, 5);
    expect(globalNormValue(grads)).toBeCloseTo(1, 5);
  });

  it("leaves gradients under the limit unchanged", () => {
    const a = tf.tensor1d([0.3, 0.4]);
    const { grads } = clipByGlobalNorm([a], 1);
    expect(Array.from(grads[0]!.dataSync())).toEqual(Array.from(a.dataSync()));
  });
});
