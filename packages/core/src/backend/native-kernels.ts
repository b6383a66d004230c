/**
 * Kernels that tfjs-node 4.22 lacks but that selfsup's recipes use, registered for its
 * "tensorflow" backend (tfjs-node and tfjs-node-gpu share it) as the TensorFlow op that tfjs
 * modelled the kernel on, so they run natively (and on the GPU where TensorFlow does).
 *
 * - Transform (`tf.image.transform`, the digits' affine augmentation) ->
 *   ImageProjectiveTransformV3, whose semantics tfjs copied: 8-number inverse maps, output pixel
 *   centres, constant/reflect/wrap/nearest fill.
 *
 * And selfsup's fused training kernels (fused-kernels.ts), as one TensorFlow op each where tfjs
 * would run a chain of them (each op a round trip through the binding; at batch 256 the convnet
 * step ran ~740 of them):
 *
 * - SelfsupBatchNormTrain / ...Grad -> FusedBatchNormV3 / FusedBatchNormGradV3 (is_training),
 *   on NHWC x as it is (no Reshape ops around it) and on [N,C] x viewed as [N,1,1,C]. TensorFlow
 *   returns the Bessel-corrected batch variance; the biased one that normalised is recovered as
 *   var·(N-1)/N. The reserve spaces go to the gradient as
 *   TensorFlow wants them (batch mean and variance on CPU, cuDNN's own on GPU).
 * - SelfsupReluGrad -> ReluGrad, where tfjs' Relu gradient is dy·step(x) and tfjs-node's Step
 *   alone is five ops (IsNan, Greater, Fill, OnesLike, Select).
 *
 * And one override: tfjs-node's Cast runs a TensorFlow Cast op even to the same dtype, which
 * tfjs' gradients and ops ask for often (24 of a SimCLR step's ~240 ops); a same-dtype Cast now
 * shares the input's data, as the cpu and wasm backends do (issue 30). And tfjs-node's ClipByValue
 * is two TensorFlow ops (Minimum, then Maximum: two passes over the tensor; the augmentations clip
 * after every step); it now runs TensorFlow's own ClipByValue, one op computing the same
 * min-then-max per element, so equal values for every input that is not NaN (tested; a -0 input
 * may stay -0 where Maximum made it +0).
 */
import {
  engine,
  getKernel,
  type KernelConfig,
  type KernelFunc,
  type NamedAttrMap,
  registerKernel,
  scalar,
  type Tensor,
  type TensorInfo,
  type TransformAttrs,
  tensor1d,
  tidy,
  unregisterKernel,
} from "@tensorflow/tfjs-core";
import { BATCH_NORM_TRAIN, BATCH_NORM_TRAIN_GRAD, RELU_GRAD } from "./fused-kernels.js";

/** The part of tfjs-node's NodeJSKernelBackend these kernels use. */
interface TfjsNodeBackend {
  binding: {
    TF_ATTR_TYPE: number;
    TF_ATTR_STRING: number;
    TF_ATTR_FLOAT: number;
    TF_ATTR_BOOL: number;
    TF_FLOAT: number;
    TF_INT32: number;
  };
  executeSingleOutput(
    name: string,
    opAttrs: Array<{ name: string; type: number; value: unknown }>,
    inputs: TensorInfo[],
  ): TensorInfo;
  executeMultipleOutputs(
    name: string,
    opAttrs: Array<{ name: string; type: number; value: unknown }>,
    inputs: TensorInfo[],
    numOutputs: number,
  ): Tensor[];
}

/** A TensorFlow op's type attribute `name` for a float32 or int32 tensor. */
function typeAttr(nb: TfjsNodeBackend, name: string, dtype: "float32" | "int32" = "float32") {
  const value = dtype === "float32" ? nb.binding.TF_FLOAT : nb.binding.TF_INT32;
  return { name, type: nb.binding.TF_ATTR_TYPE, value };
}

/** A reshaped alias through the engine (tfjs-node's Reshape kernel shares the data). */
function reshapeInfo(t: TensorInfo, shape: number[]): Tensor {
  return engine().runKernel("Reshape", { x: t as Tensor }, { shape }) as Tensor;
}

function batchNormAttrs(nb: TfjsNodeBackend, epsilon: number) {
  return [
    typeAttr(nb, "T"),
    typeAttr(nb, "U"),
    { name: "epsilon", type: nb.binding.TF_ATTR_FLOAT, value: epsilon },
    { name: "data_format", type: nb.binding.TF_ATTR_STRING, value: "NHWC" },
    { name: "is_training", type: nb.binding.TF_ATTR_BOOL, value: true },
  ];
}

const batchNormTrainConfig: KernelConfig = {
  kernelName: BATCH_NORM_TRAIN,
  backendName: "tensorflow",
  kernelFunc: ({ inputs, backend, attrs }) => {
    const nb = backend as unknown as TfjsNodeBackend;
    const { x, scale, offset } = inputs as { x: TensorInfo; scale: TensorInfo; offset: TensorInfo };
    const nhwc = x.shape.length === 4;
    const c = x.shape[x.shape.length - 1] as number;
    const n = x.shape.reduce((a, b) => a * b, 1) / c;
    return tidy(() => {
      const empty = tensor1d([], "float32");
      const [y4, mean, unbiased, r1, r2, r3] = nb.executeMultipleOutputs(
        "FusedBatchNormV3",
        batchNormAttrs(nb, (attrs as { epsilon: number }).epsilon),
        [nhwc ? x : reshapeInfo(x, [n, 1, 1, c]), scale, offset, empty, empty],
        6,
      ) as [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor];
      const variance = engine().runKernel("Multiply", { a: unbiased, b: scalar((n - 1) / n) }) as Tensor;
      return [nhwc ? y4 : reshapeInfo(y4, x.shape), mean, variance, r1, r2, r3];
    });
  },
};

const batchNormTrainGradConfig: KernelConfig = {
  kernelName: BATCH_NORM_TRAIN_GRAD,
  backendName: "tensorflow",
  kernelFunc: ({ inputs, backend, attrs }) => {
    const nb = backend as unknown as TfjsNodeBackend;
    const { dy, x, scale, reserve0, reserve1, reserve2 } = inputs as Record<string, TensorInfo>;
    const shape = (x as TensorInfo).shape;
    const nhwc = shape.length === 4;
    const c = shape[shape.length - 1] as number;
    const n = shape.reduce((a, b) => a * b, 1) / c;
    const as4d = (t: TensorInfo) => (nhwc ? t : reshapeInfo(t, [n, 1, 1, c]));
    return tidy(() => {
      const [dx4, dscale, doffset] = nb.executeMultipleOutputs(
        "FusedBatchNormGradV3",
        batchNormAttrs(nb, (attrs as { epsilon: number }).epsilon),
        [as4d(dy as TensorInfo), as4d(x as TensorInfo), scale, reserve0, reserve1, reserve2] as TensorInfo[],
        5,
      ) as [Tensor, Tensor, Tensor, Tensor, Tensor];
      return [nhwc ? dx4 : reshapeInfo(dx4, shape), dscale, doffset];
    });
  },
};

const reluGradConfig: KernelConfig = {
  kernelName: RELU_GRAD,
  backendName: "tensorflow",
  kernelFunc: ({ inputs, backend }) => {
    const nb = backend as unknown as TfjsNodeBackend;
    const { dy, x } = inputs as { dy: TensorInfo; x: TensorInfo };
    return nb.executeSingleOutput("ReluGrad", [typeAttr(nb, "T")], [dy, x]);
  },
};

const transformConfig: KernelConfig = {
  kernelName: "Transform",
  backendName: "tensorflow",
  kernelFunc: ({ inputs, backend, attrs }) => {
    const nb = backend as unknown as TfjsNodeBackend;
    const { image, transforms } = inputs as { image: TensorInfo; transforms: TensorInfo };
    const { interpolation, fillMode, fillValue, outputShape } = attrs as unknown as TransformAttrs &
      NamedAttrMap;
    if (image.dtype !== "float32" && image.dtype !== "int32") {
      throw new Error(`Transform on tensorflow: image dtype ${image.dtype} is not supported`);
    }
    const [, h, w] = image.shape as [number, number, number, number];
    const size = tensor1d(outputShape ?? [h, w], "int32");
    const fill = scalar(fillValue ?? 0, "float32");
    try {
      return nb.executeSingleOutput(
        "ImageProjectiveTransformV3",
        [
          typeAttr(nb, "dtype", image.dtype),
          { name: "interpolation", type: nb.binding.TF_ATTR_STRING, value: interpolation.toUpperCase() },
          { name: "fill_mode", type: nb.binding.TF_ATTR_STRING, value: fillMode.toUpperCase() },
        ],
        [image, transforms, size, fill] as TensorInfo[],
      );
    } finally {
      (size as Tensor).dispose();
      (fill as Tensor).dispose();
    }
  },
};

/** The wrappers installed by `wrapKernel`, so registering twice is a no-op. */
const wrappers = new Set<KernelFunc>();

/**
 * Replaces tfjs-node's kernel `name` by `wrap(upstream)`, a kernel that handles what it can and
 * calls the upstream one for the rest. False when there is no such kernel or it is wrapped already.
 */
function wrapKernel(name: string, wrap: (upstream: KernelFunc) => KernelFunc): boolean {
  const upstream = getKernel(name, "tensorflow");
  if (upstream === undefined || wrappers.has(upstream.kernelFunc)) return false;
  const kernelFunc = wrap(upstream.kernelFunc);
  wrappers.add(kernelFunc);
  unregisterKernel(name, "tensorflow");
  registerKernel({ ...upstream, kernelFunc });
  return true;
}

/** Cast that shares the data when the dtype does not change; else tfjs-node's own Cast. */
const sameDtypeCast =
  (castOp: KernelFunc): KernelFunc =>
  (args) => {
    const x = args.inputs.x as TensorInfo;
    if (x.dtype !== (args.attrs as { dtype: string }).dtype) return castOp(args);
    (args.backend as unknown as { incRef(dataId: object): void }).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };

/** ClipByValue as TensorFlow's ClipByValue op (float32, int32); else tfjs-node's Minimum + Maximum. */
const clipByValueOneOp =
  (composite: KernelFunc): KernelFunc =>
  (args) => {
    const x = args.inputs.x as TensorInfo;
    if (x.dtype !== "float32" && x.dtype !== "int32") return composite(args);
    const nb = args.backend as unknown as TfjsNodeBackend;
    const { clipValueMin, clipValueMax } = args.attrs as { clipValueMin: number; clipValueMax: number };
    const lo = scalar(clipValueMin, x.dtype);
    const hi = scalar(clipValueMax, x.dtype);
    try {
      return nb.executeSingleOutput("ClipByValue", [typeAttr(nb, "T", x.dtype)], [x, lo, hi]);
    } finally {
      lo.dispose();
      hi.dispose();
    }
  };

/** Registers the kernels above where "tensorflow" lacks them; returns the names registered. */
export function registerNativeKernels(): string[] {
  const names: string[] = [];
  for (const config of [transformConfig, batchNormTrainConfig, batchNormTrainGradConfig, reluGradConfig]) {
    if (getKernel(config.kernelName, "tensorflow") != null) continue;
    registerKernel(config);
    names.push(config.kernelName);
  }
  if (wrapKernel("Cast", sameDtypeCast)) names.push("Cast (same dtype: shared)");
  if (wrapKernel("ClipByValue", clipByValueOneOp)) names.push("ClipByValue (one op)");
  return names;
}
