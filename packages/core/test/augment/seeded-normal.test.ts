import { beforeAll, describe, expect, it } from "vitest";
import { seededNormal, seededNormalValues } from "../../src/augment/seeded-normal.js";
import { tf } from "../../src/tf.js";
import { useBackend } from "./helpers.js";

// The noise augmentation's generator must give tfjs' seeded randomNormal bit for bit: views (and
// so every pinned loss) stay what they were before it replaced tf.randomNormal (issue 30).
describe("seededNormal", () => {
  beforeAll(() => useBackend("cpu"));

  it.each([
    [[2, 28, 28, 1], 0, 0.05, 12345],
    [[3, 5, 7, 3], 0.5, 2, 987654321], // odd size: the last pair's second draw is dropped
    [[1], -1, 0.1, 2147483646],
    [[64, 8, 8, 1], 0, 1, 0.625],
  ])("equals tf.randomNormal(%j, %d, %d, float32, %d)", (shape, mean, std, seed) => {
    const expected = tf.randomNormal(shape, mean, std, "float32", seed);
    const got = seededNormal(shape, mean, std, seed);
    expect(got.shape).toEqual(shape);
    expect(got.dtype).toBe("float32");
    expect(Array.from(got.dataSync())).toEqual(Array.from(expected.dataSync()));
    tf.dispose([expected, got]);
  });

  it("is reproducible for seed 0 (tfjs would take it as no seed)", () => {
    const a = seededNormalValues(100, 0, 1, 0);
    expect(Array.from(a)).toEqual(Array.from(seededNormalValues(100, 0, 1, 0)));
    expect(Array.from(a)).not.toEqual(Array.from(seededNormalValues(100, 0, 1, 1)));
  });
});
