import { initBackend, tf } from "@selfsup/core";
import { checkFiniteLoss, createMethod } from "@selfsup/core/testing";
import { beforeAll, describe, expect, it } from "vitest";
import { dropColors, NEIGHBOURS, type RelativePosition, relativePositionMethod } from "../src/index.js";

beforeAll(async () => {
  await initBackend("cpu");
});

describe("relative position", () => {
  it("labels the 8 neighbours of the centre, never the centre itself", () => {
    expect([...NEIGHBOURS]).toEqual([0, 1, 2, 3, 5, 6, 7, 8]);
  });

  it("colour dropping keeps exactly one channel per patch and leaves faint noise in the others", () => {
    const p = tf.fill([3, 4, 4, 3], 0.7);
    const d = dropColors(p, [0, 2, 1], 5, 0.01);
    const v = d.arraySync() as number[][][][];
    const px = (i: number) => (v[i] as number[][][])[1]?.[2] as number[];
    expect(px(0)[0]).toBeCloseTo(0.7, 6);
    expect(Math.abs(px(0)[1] as number)).toBeLessThan(0.05);
    expect(px(1)[2]).toBeCloseTo(0.7, 6);
    expect(px(2)[1]).toBeCloseTo(0.7, 6);
    expect(Math.abs(px(2)[0] as number)).toBeLessThan(0.05);
    tf.dispose([p, d]);
  });

  it("builds its tile encoder for the tile size and trains one step on RGB images", async () => {
    const opts = {
      input: { kind: "image" as const, height: 32, width: 32, channels: 3 },
      options: { headHiddenDim: 8 },
    };
    const m = createMethod(relativePositionMethod, opts) as RelativePosition;
    expect(m.geometry.tile).toBe(7);
    expect(m.encoder().outputDim).toBe(9 * m.backbone.outputDim);
    m.dispose();
    await checkFiniteLoss(relativePositionMethod, opts);
  });
});
