/**
 * Gradients that tfjs-core 4.22 gets wrong or lacks, found by test/backend/op-coverage.test.ts:
 *
 * - BatchMatMul: upstream returns gradients with the broadcast batch shape, so
 *   `matMul(x[B,T,D], w[D,E])` (every dense layer on a sequence: ViT, transformer text encoders)
 *   fails with "The gradient of input 'b' has shape '2,4,5', which does not match ... '4,5'".
 *   Ours sums the gradient over the broadcast batch dimensions.
 * - Einsum has no gradient upstream. Ours differentiates each operand by einsum-ing the output
 *   gradient with the other operand(s) back to that operand's subscripts, broadcasting over any
 *   index only that operand has (tfjs' einsum allows at most two operands and no repeated index).
 * - Relu: upstream's gradient is dy·cast(step(x)): on wasm the cast of a float32 tensor is a
 *   full copy, and on tfjs-node Step alone is five TensorFlow ops. Ours runs selfsup's fused
 *   ReluGrad kernel where the backend has one (TensorFlow's ReluGrad on "tensorflow", see
 *   ../fused-kernels.ts), else dy·step(x) without the cast. Same values (x > 0 ? dy : 0).
 * - Comparisons and logical ops (Greater, Less, Equal, ...) have no gradient upstream, so any
 *   loss written `where(greater(a, b), a, b)` with `a`/`b` depending on the parameters throws
 *   "gradient function not found for Greater". Their outputs are piecewise constant: the
 *   gradient is zero (as upstream already does for GreaterEqual).
 */
import {
  BatchMatMul,
  type BatchMatMulAttrs,
  backend_util,
  broadcastTo,
  cast,
  Einsum,
  type EinsumAttrs,
  Equal,
  einsum,
  engine,
  type GradConfig,
  Greater,
  getGradient,
  Less,
  LessEqual,
  LogicalAnd,
  LogicalNot,
  LogicalOr,
  LogicalXor,
  matMul,
  mul,
  type NamedAttrMap,
  NotEqual,
  Relu,
  registerGradient,
  reshape,
  step,
  sum,
  type Tensor,
  zerosLike,
} from "@tensorflow/tfjs-core";
import { hasFusedKernel, RELU_GRAD } from "../fused-kernels.js";

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

export const einsumGradConfig: GradConfig = {
  kernelName: Einsum,
  saveAllInputs: true,
  gradFunc: (dy: Tensor | Tensor[], saved: Tensor[], attrs: NamedAttrMap) => {
    const g = dy as Tensor;
    const { equation } = attrs as unknown as EinsumAttrs;
    const [lhs, out] = equation.replace(/\s/g, "").split("->");
    const terms = lhs.split(",");
    return terms.map((term, k) => () => {
      const others = terms.filter((_, j) => j !== k);
      const otherTensors = saved.filter((_, j) => j !== k);
      const available = new Set([...out, ...others.join("")]);
      const keep = [...term].filter((c) => available.has(c)).join("");
      const grad =
        others.length === 0 && keep === out
          ? g
          : einsum(`${[out, ...others].join(",")}->${keep}`, g, ...otherTensors);
      if (keep.length === term.length) return grad;
      // Indices only this operand has were summed away in the forward pass: broadcast back.
      const x = saved[k];
      const withOnes = [...term].map((c, i) => (available.has(c) ? x.shape[i] : 1));
      return broadcastTo(reshape(grad, withOnes), x.shape);
    }) as unknown as { [name: string]: () => Tensor };
  },
};

export const reluGradConfig: GradConfig = {
  kernelName: Relu,
  inputsToSave: ["x"],
  gradFunc: (dy: Tensor | Tensor[], saved: Tensor[]) => {
    const g = dy as Tensor;
    const x = saved[0] as Tensor;
    return {
      x: () => {
        if (hasFusedKernel(RELU_GRAD) && x.dtype === "float32") {
          return engine().runKernel(RELU_GRAD, { dy: g, x }) as Tensor;
        }
        const s = step(x);
        return mul(g, s.dtype === "float32" ? s : cast(s, "float32"));
      },
    };
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
  ...[Greater, Less, LessEqual, Equal, NotEqual, LogicalAnd, LogicalOr, LogicalXor].map((k) =>
    zeroGrad(k, ["a", "b"]),
  ),
  zeroGrad(LogicalNot, ["x"]),
];

/**
 * Registers the fixed BatchMatMul gradient (replacing tfjs-core's), and the Einsum gradient and
 * the zero gradients of comparisons where none is registered. Idempotent; returns the kernel names it (re)registered.
 */
export function registerExtraGradients(): string[] {
  const added: string[] = [];
  if (getGradient(Einsum) == null) {
    registerGradient(einsumGradConfig);
    added.push(Einsum);
  }
  if (getGradient(Relu) !== reluGradConfig) {
    registerGradient(reluGradConfig);
    added.push(Relu);
  }
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
