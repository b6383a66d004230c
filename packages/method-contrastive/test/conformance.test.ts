import {
  ConvNet,
  convNetBackbone,
  type FeatureModule,
  type InputSpec,
  type Rng,
  ViT,
  vitTinyBackbone,
} from "@selfsup/core";
import { type ConformanceCheck, describeMethodConformance } from "@selfsup/core/testing";
import { contrastiveMethods } from "../src/index.js";
import { TINY_VIT } from "./helpers.js";

// core's conformance kit (options, finite loss, loss falls, no leaks, checkpoint round trip,
// determinism) on its tiny MLP encoder and synthetic 8x8 gray images (so each method's default
// augmentation is the digits pipeline), with each spec's tinyOptions (small projectors): a few seconds per method.
//
// MoCo skips "loss-falls": its queue starts as random unit vectors, which are easy negatives, so
// its first losses are far below chance and the loss *rises* while real keys fill the queue before
// it falls. moco.test.ts checks instead that the loss falls once the queue holds real keys.
//
// DINO skips it too: its target moves by design. At step 0 teacher = student, so the loss is about
// the sharp teacher's entropy; centring then flattens the teacher and the loss H(P_t, P_s) =
// H(P_t) + KL(P_t || P_s) rises with H(P_t). dino.test.ts checks instead that the part the
// student controls, loss - teacherEntropy, falls.
// iBOT is DINO plus its masked-patch term: skipped for the same reason (ibot.test.ts trains it).
const SKIP: Record<string, ConformanceCheck[]> = {
  moco: ["loss-falls"],
  dino: ["loss-falls"],
  ibot: ["loss-falls"],
};

// DINO cuts multi-crop views of two sizes (8 and 4 px here), which the kit's tiny MLP encoder (a
// flattening of the 8x8 image) cannot take: it gets a tiny convnet with global pooling.
const tinyConvnet = (input: InputSpec, rng: Rng): FeatureModule =>
  new ConvNet(
    convNetBackbone.options.parse({ width: 4, strides: [2, 2] }),
    input as Extract<InputSpec, { kind: "image" }>,
    rng,
  );
// iBOT needs patch tokens: a tiny vit-tiny with mask tokens (2 px patches, 4 px local crops).
const tinyViT = (input: InputSpec, rng: Rng): FeatureModule =>
  new ViT(
    vitTinyBackbone.options.parse(TINY_VIT.options),
    input as Extract<InputSpec, { kind: "image" }>,
    rng,
  );
const BACKBONE: Record<string, (input: InputSpec, rng: Rng) => FeatureModule> = {
  dino: tinyConvnet,
  ibot: tinyViT,
};

for (const spec of contrastiveMethods) {
  describeMethodConformance(spec, {
    input: { kind: "image", height: 8, width: 8, channels: 1 },
    skip: SKIP[spec.name] ?? [],
    ...(BACKBONE[spec.name] ? { backbone: BACKBONE[spec.name] } : {}),
  });
}
