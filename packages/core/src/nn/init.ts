/**
 * Weight initialisers. Every initial weight comes from an `Rng` we are handed, generated here in
 * plain JavaScript, so the same seed gives bit-identical weights on every backend (cpu, wasm,
 * tensorflow) — tfjs' own random ops would tie the values to the op's implementation.
 */
import type { Rng } from "../rng.js";
import { tf } from "../tf.js";

function size(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

/** Uniform in [-bound, bound). */
export function uniformInit(shape: readonly number[], bound: number, rng: Rng): tf.Tensor {
  const values = new Float32Array(size(shape));
  for (let i = 0; i < values.length; i++) values[i] = (2 * rng.next() - 1) * bound;
  return tf.tensor(values, [...shape], "float32");
}

/** Normal with mean 0 and standard deviation `std`. */
export function normalInit(shape: readonly number[], std: number, rng: Rng): tf.Tensor {
  const values = new Float32Array(size(shape));
  for (let i = 0; i < values.length; i++) values[i] = rng.normal() * std;
  return tf.tensor(values, [...shape], "float32");
}

/**
 * Normal with standard deviation `std`, redrawn outside ±2 std (timm's `trunc_normal_(std=.02)`
 * for ViT tokens and position embeddings: no rare huge initial values).
 */
export function truncatedNormalInit(shape: readonly number[], std: number, rng: Rng): tf.Tensor {
  const values = new Float32Array(size(shape));
  for (let i = 0; i < values.length; i++) {
    let z = rng.normal();
    while (z < -2 || z > 2) z = rng.normal();
    values[i] = z * std;
  }
  return tf.tensor(values, [...shape], "float32");
}

export function zerosInit(shape: readonly number[]): tf.Tensor {
  return tf.zeros([...shape], "float32");
}

export function onesInit(shape: readonly number[]): tf.Tensor {
  return tf.ones([...shape], "float32");
}

/**
 * How a Linear or Conv2d layer initialises its weight (and bias):
 * - "torch": PyTorch's default, kaiming-uniform with a = √5, i.e. U(±1/√fan_in) for the weight
 *   and the bias alike. A sane default for MLP heads and small convnets.
 * - "xavier": Glorot & Bengio (2010) uniform U(±√(6/(fan_in+fan_out))), bias 0. What timm and MAE
 *   use for the linear layers of a ViT.
 * - "kaiming-normal": He et al. (2015) N(0, 2/fan_out), bias 0. What torchvision uses for the
 *   convolutions of a ResNet (mode="fan_out", nonlinearity="relu").
 */
export type WeightInit = "torch" | "xavier" | "kaiming-normal";

export function initWeight(
  shape: readonly number[],
  fanIn: number,
  fanOut: number,
  init: WeightInit,
  rng: Rng,
): tf.Tensor {
  switch (init) {
    case "torch":
      return uniformInit(shape, 1 / Math.sqrt(fanIn), rng);
    case "xavier":
      return uniformInit(shape, Math.sqrt(6 / (fanIn + fanOut)), rng);
    case "kaiming-normal":
      return normalInit(shape, Math.sqrt(2 / fanOut), rng);
  }
}

export function initBias(shape: readonly number[], fanIn: number, init: WeightInit, rng: Rng): tf.Tensor {
  return init === "torch" ? uniformInit(shape, 1 / Math.sqrt(fanIn), rng) : zerosInit(shape);
}
