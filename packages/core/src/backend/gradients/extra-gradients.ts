/**
 * Gradients that tfjs-core 4.22 gets wrong or lacks, found by test/backend/op-coverage.test.ts:
 *
 * - BatchMatMul: upstream returns gradients with the broadcast batch shape, so
 *   `matMul(x[B,T,D], w[D,E])` (every dense layer on a sequence: ViT, transformer text encoders)
 *   fails with "The gradient of input 'b' has shape '2,4,5', which does not match ... '4,5'".
 *   Ours sums the gradient over the broadcast batch dimensions.
 * - Comparisons and logical ops (Greater, Less, Equal, ...) have no gradient upstream, so any
 *   loss written `where(greater(a, b), a, b)` with `a`/`b` depending on the parameters throws
 *   "gradient function not found for Greater". Their outputs are piecewise constant: the
 *   gradient is zero (as upstream already does for GreaterEqual).
 */
import {
  type GradConfig,
  BatchMatMul,
  type BatchMatMulAttrs,
  backend_util,
  Equal,
  getGradient,
  Greater,
  Less,
  LessEqual,
  LogicalAnd,
  LogicalNot,
  LogicalOr,
  LogicalXor,
  matMul,
  NotEqual,
  type NamedAttrMap,
  registerGradient,
  reshape,
  sum,
  type Tensor,
  zerosLike,
} from "@tensorflow/tfjs-core";

/** Sums `g` (shaped like the broadcast result) down to `shape` (the input's shape). */
function reduceToShape(g: Tensor, shape: number[]): Tensor {
  if (g.shape.length === shape.length && g.shape.every((d, i) => d === shape[i])) return g;
  const axes = backend_util.getReductionAxes(shape, g.shape);
  const summed = axes.length > 0 ? sum(g, axes, true) : g;
  return reshape(summed, shape);
}

export const batchMatMulGradConfig: GradConfig = {
  kernelName: BatchMatMul,
  inputsToSave: ["a", "b"],
  gradFunc: (dy: Tensor | Tensor[], saved: Tensor[], attrs: NamedAttrMap) => {
    const g = dy as Tensor;
    const [a, b] = saved as [Tensor, Tensor];
    const { transposeA, transposeB } = attrs as unknown as BatchMatMulAttrs;
    let da: () => Tensor;
    let db: () => Tensor;
    if (!transposeA && !transposeB) {
      da = () => matMul(g, b, false, true);
      db = () => matMul(a, g, true, false);
    } else if (!transposeA && transposeB) {
      da = () => matMul(g, b, false, false);
      db = () => matMul(g, a, true, false);
    } else if (transposeA && !transposeB) {
      da = () => matMul(b, g, false, true);
      db = () => matMul(a, g, false, false);
    } else {
      da = () => matMul(b, g, true, true);
      db = () => matMul(g, a, true, true);
    }
    return { a: () => reduceToShape(da(), a.shape), b: () => reduceToShape(db(), b.shape) };
  },
};

function zeroGrad(kernelName: string, inputs: string[]): GradConfig {
  return {
    kernelName,
    inputsToSave: inputs,
    gradFunc: (_dy: Tensor | Tensor[], saved: Tensor[]) => {
      const out: { [name: string]: () => Tensor } = {};
      inputs.forEach((name, i) => {
        out[name] = () => zerosLike(saved[i]);
      });
      return out;
    },
  };
}

export const ZERO_GRAD_CONFIGS: GradConfig[] = [
  ...[Greater, Less, LessEqual, Equal, NotEqual, LogicalAnd, LogicalOr, LogicalXor].map((k) => zeroGrad(k, ["a", "b"])),
  zeroGrad(LogicalNot, ["x"]),
];

/**
 * Registers the fixed BatchMatMul gradient (replacing tfjs-core's) and the zero gradients of
 * comparisons where none is registered. Idempotent; returns the kernel names it (re)registered.
 */
export function registerExtraGradients(): string[] {
  const added: string[] = [];
  if (getGradient(BatchMatMul) !== batchMatMulGradConfig) {
    registerGradient(batchMatMulGradConfig);
    added.push(BatchMatMul);
  }
  for (const config of ZERO_GRAD_CONFIGS) {
    if (getGradient(config.kernelName) != null) continue;
    registerGradient(config);
    added.push(config.kernelName);
  }
  return added;
}
