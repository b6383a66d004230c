import { describe, expect, it } from "vitest";
import { z } from "zod";
import type { Method, MethodSpec, StepContext, TrainBatch } from "../../src/plugin/types.js";
import {
  ConformanceError,
  checkCheckpointRoundTrip,
  checkDeterminism,
  checkNoLeaks,
  checkOptions,
  describeMethodConformance,
  runMethodConformance,
  type ToyAutoencoder,
  toyAutoencoderSpec,
} from "../../src/testing/index.js";
import { tf } from "../../src/tf.js";

// The kit on a well-behaved method: every check registered and passing.
describeMethodConformance(toyAutoencoderSpec);
describeMethodConformance(toyAutoencoderSpec, {
  options: { noise: 0.1 },
  input: { kind: "text", vocabSize: 32, seqLen: 16 },
});

/** The toy method with one behaviour changed. */
function variant(
  name: string,
  change: (m: ToyAutoencoder) => void,
  options: z.ZodType = toyAutoencoderSpec.options,
): MethodSpec {
  return {
    ...toyAutoencoderSpec,
    name,
    options,
    create: (opts, ctx) => {
      const m = toyAutoencoderSpec.create(opts as never, ctx) as ToyAutoencoder;
      change(m);
      return m;
    },
  } as MethodSpec;
}

const leaking = variant("leaking", (m) => {
  const step = m.trainStep.bind(m);
  m.trainStep = (batch: TrainBatch, ctx: StepContext) => {
    tf.square(batch.inputs); // computed outside tf.tidy and never disposed
    return step(batch, ctx);
  };
});

const nondeterministic = variant(
  "nondeterministic",
  (m) => {
    m.trainStep = (batch: TrainBatch, ctx: StepContext) =>
      ctx.minimize(() => m.loss(batch.inputs, { seed: () => Math.floor(Math.random() * 1e9) } as never));
  },
  z.object({ noise: z.number().default(0.2) }),
);

const hiddenState = variant("hidden-state", (m) => {
  // a JS-side counter that changes the loss but is not in modules() or state()
  let calls = 0;
  m.trainStep = (batch: TrainBatch, ctx: StepContext) => {
    calls += 1;
    const scale = 1 + calls / 10;
    return ctx.minimize(() => {
      const out = m.loss(batch.inputs, ctx.rng);
      return { loss: tf.tidy(() => tf.mul(out.loss, scale)) as tf.Scalar };
    });
  };
});

describe("the conformance kit catches broken methods", () => {
  it("detects a method that leaks one tensor per step", async () => {
    const err = await checkNoLeaks(leaking).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConformanceError);
    expect(String(err)).toMatch(
      /"leaking" leaks tensors: tf\.memory\(\)\.numTensors after consecutive steps was \d+ -> \d+ -> \d+ -> \d+ \(\+1 per step\)/,
    );
  });

  it("detects randomness outside the seeded Rng", async () => {
    await expect(checkDeterminism(nondeterministic)).rejects.toThrow(
      /"nondeterministic" is not deterministic/,
    );
  });

  it("detects state that a checkpoint does not save", async () => {
    await expect(checkCheckpointRoundTrip(hiddenState)).rejects.toThrow(
      /"hidden-state": the resumed run's loss at step 11/,
    );
  });

  it("detects an options schema without defaults", async () => {
    const bad = variant("no-defaults", () => {}, z.object({ noise: z.number() }));
    await expect(checkOptions(bad)).rejects.toThrow(/must accept \{\} \(give every option a default\)/);
  });

  it("runMethodConformance reports each check without throwing", async () => {
    const results = await runMethodConformance(leaking, {
      skip: ["loss-falls", "checkpoint", "determinism"],
    });
    expect(results.map((r) => [r.check, r.ok, r.skipped])).toEqual([
      ["options", true, false],
      ["finite-loss", true, false],
      ["loss-falls", true, true],
      ["no-leaks", false, false],
      ["checkpoint", true, true],
      ["determinism", true, true],
    ]);
  });
});

const _m: Method = {} as ToyAutoencoder;
void _m;
