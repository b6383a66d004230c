import { initBackend, Rng, tf } from "@selfsup/core";
import { createMethod } from "@selfsup/core/testing";
import { beforeAll, describe, expect, it } from "vitest";
import {
  type Autoencoder,
  autoencoderMethod,
  autoencoderMethodOptions,
  corrupt,
  upsample2,
} from "../src/index.js";

beforeAll(async () => {
  await initBackend("cpu");
});

describe("autoencoder", () => {
  it("masking noise zeroes about maskRatio of the pixels, the same for every channel", () => {
    const opts = autoencoderMethodOptions.parse({ corruption: "masking", maskRatio: 0.3 });
    const x = tf.ones([8, 16, 16, 3]);
    const y = corrupt(x, opts, 7);
    const zero = tf.tidy(() => tf.cast(tf.equal(y, 0), "float32"));
    const ratio = tf.mean(zero).dataSync()[0] as number;
    expect(ratio).toBeGreaterThan(0.25);
    expect(ratio).toBeLessThan(0.35);
    // channels of one pixel are masked together
    const perPixel = tf.tidy(() => tf.sum(zero, 3));
    const values = new Set(Array.from(perPixel.dataSync()));
    expect([...values].sort()).toEqual([0, 3]);
    tf.dispose([x, y, zero, perPixel]);
  });

  it("gaussian noise stays in [0, 1] and has about the requested std away from the bounds", () => {
    const opts = autoencoderMethodOptions.parse({ corruption: "gaussian", noiseStd: 0.05 });
    const x = tf.fill([4, 16, 16, 1], 0.5);
    const y = corrupt(x, opts, 3);
    const { variance } = tf.moments(tf.sub(y, x));
    expect(Math.sqrt(variance.dataSync()[0] as number)).toBeCloseTo(0.05, 2);
    expect(tf.min(y).dataSync()[0]).toBeGreaterThanOrEqual(0);
    tf.dispose([x, y, variance]);
  });

  it("upsamples by repeating each pixel 2x2", () => {
    const x = tf.tensor4d([1, 2, 3, 4], [1, 2, 2, 1]);
    const y = upsample2(x);
    expect(y.shape).toEqual([1, 4, 4, 1]);
    expect(Array.from(y.dataSync())).toEqual([1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
    tf.dispose([x, y]);
  });

  it("draws input / corrupted / reconstruction rows as a PNG", () => {
    const m = createMethod(autoencoderMethod, {
      input: { kind: "image", height: 12, width: 12, channels: 1 },
    }) as Autoencoder;
    const x = tf.randomUniform([3, 12, 12, 1], 0, 1, "float32", 1);
    const png = m.reconstructionPreview(x, new Rng(0));
    expect(png.subarray(1, 4).toString()).toBe("PNG");
    // the decoder maps features back to the input's shape
    const out = tf.tidy(() => m.decoder.forward(m.backbone.forward(x)));
    expect(out.shape).toEqual([3, 12, 12, 1]);
    tf.dispose([x, out]);
    m.dispose();
  });
});
