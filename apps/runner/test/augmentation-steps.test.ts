/** The run's augmentation steps: a random resized crop without a size outputs the dataset's input size. */
import type { Method } from "@selfsup/core";
import { describe, expect, it } from "vitest";
import type { ResolvedRunConfig } from "../src/config.js";
import { augmentationSteps } from "../src/run/build.js";

const input = { kind: "image" as const, height: 64, width: 48, channels: 3 as const };

describe("augmentationSteps", () => {
  it("gives a crop without a size the input size (views cut from a larger stored batch come out at it)", () => {
    const cfg = {
      augmentations: [
        { name: "random-resized-crop", options: { scale: [0.2, 1] } },
        { name: "random-resized-crop", options: { size: [32, 32] } },
        { name: "horizontal-flip" },
      ],
    } as unknown as ResolvedRunConfig;
    expect(augmentationSteps(cfg, {} as Method, input)).toEqual([
      { name: "random-resized-crop", options: { scale: [0.2, 1], size: [64, 48] } },
      { name: "random-resized-crop", options: { size: [32, 32] } },
      { name: "horizontal-flip" },
    ]);
    // the method's default pipeline gets the same
    const method = { defaultAugmentation: () => [{ name: "random-resized-crop" }] } as unknown as Method;
    expect(augmentationSteps({} as ResolvedRunConfig, method, input)).toEqual([
      { name: "random-resized-crop", options: { size: [64, 48] } },
    ]);
  });
});
