/**
 * The few tfjs-core internals that its gradient functions import and that tfjs-core does not
 * export publicly: thin wrappers that run the same kernels with the same attributes through the
 * public `engine().runKernel`, and helpers re-exported from `backend_util` / `util`.
 *
 * The wrappers are only ever called from gradient functions, with tensors of the rank the forward
 * kernel saw (4-D for 2-D convolutions and pools, 5-D for 3-D ones), so unlike the upstream ops they
 * do not reshape 3-D inputs.
 */
import {
  AvgPool3DGrad,
  AvgPoolGrad,
  backend_util,
  Conv2DBackpropFilter,
  Conv2DBackpropInput,
  Conv3DBackpropFilterV2,
  Conv3DBackpropInputV2,
  DepthwiseConv2dNativeBackpropFilter,
  DepthwiseConv2dNativeBackpropInput,
  engine,
  LRNGrad,
  MaxPool3DGrad,
  MaxPoolGrad,
  type NamedAttrMap,
  type NamedTensorMap,
  slice_util,
  type Tensor,
  type Tensor4D,
  type Tensor5D,
  util,
} from "@tensorflow/tfjs-core";

type Pad = "valid" | "same" | number | backend_util.ExplicitPadding;
type Rounding = "floor" | "round" | "ceil" | undefined;
type Pair = [number, number] | number;
type Triple = [number, number, number] | number;

/** Stand-in for tfjs-core's internal ENGINE singleton; resolves the global engine at call time. */
export const ENGINE = {
  runKernel(kernelName: string, inputs: NamedTensorMap, attrs?: NamedAttrMap): Tensor | Tensor[] {
    return engine().runKernel(kernelName, inputs, attrs);
  },
};

function run<T extends Tensor>(kernel: string, inputs: Record<string, Tensor>, attrs: object): T {
  return engine().runKernel(kernel, inputs as NamedTensorMap, attrs as unknown as NamedAttrMap) as T;
}

export function conv2DBackpropFilter(
  x: Tensor4D,
  dy: Tensor4D,
  filterShape: [number, number, number, number],
  strides: Pair,
  pad: Pad,
  dataFormat: "NHWC" | "NCHW" = "NHWC",
  dimRoundingMode?: Rounding,
): Tensor4D {
  return run(Conv2DBackpropFilter, { x, dy }, { strides, pad, dataFormat, dimRoundingMode, filterShape });
}

export function conv2DBackpropInput(
  xShape: [number, number, number, number],
  dy: Tensor4D,
  filter: Tensor4D,
  strides: Pair,
  pad: Pad,
  dataFormat: "NHWC" | "NCHW" = "NHWC",
  dimRoundingMode?: Rounding,
): Tensor4D {
  return run(
    Conv2DBackpropInput,
    { dy, filter },
    { strides, pad, dataFormat, dimRoundingMode, inputShape: xShape },
  );
}

export function depthwiseConv2dNativeBackpropFilter(
  x: Tensor4D,
  dy: Tensor4D,
  filterShape: [number, number, number, number],
  strides: Pair,
  pad: Pad,
  dilations: Pair = [1, 1],
  dimRoundingMode?: Rounding,
): Tensor4D {
  return run(
    DepthwiseConv2dNativeBackpropFilter,
    { x, dy },
    { strides, pad, dimRoundingMode, dilations, filterShape },
  );
}

export function depthwiseConv2dNativeBackpropInput(
  xShape: [number, number, number, number],
  dy: Tensor4D,
  filter: Tensor4D,
  strides: Pair,
  pad: Pad,
  dilations: Pair = [1, 1],
  dimRoundingMode?: Rounding,
): Tensor4D {
  return run(
    DepthwiseConv2dNativeBackpropInput,
    { dy, filter },
    { strides, pad, dimRoundingMode, dilations, inputShape: xShape },
  );
}

export function maxPoolGrad(
  dy: Tensor4D,
  input: Tensor4D,
  output: Tensor4D,
  filterSize: Pair,
  strides: Pair,
  pad: Pad,
  dimRoundingMode?: Rounding,
): Tensor4D {
  return run(MaxPoolGrad, { dy, input, output }, { filterSize, strides, pad, dimRoundingMode });
}

export function avgPoolGrad(
  dy: Tensor4D,
  input: Tensor4D,
  filterSize: Pair,
  strides: Pair,
  pad: Pad,
): Tensor4D {
  return run(AvgPoolGrad, { dy, input }, { filterSize, strides, pad });
}

export function maxPool3dGrad(
  dy: Tensor5D,
  input: Tensor5D,
  output: Tensor5D,
  filterSize: Triple,
  strides: Triple,
  pad: "valid" | "same" | number,
  dimRoundingMode?: Rounding,
): Tensor5D {
  return run(MaxPool3DGrad, { dy, input, output }, { filterSize, strides, pad, dimRoundingMode });
}

export function avgPool3dGrad(
  dy: Tensor5D,
  input: Tensor5D,
  filterSize: Triple,
  strides: Triple,
  pad: "valid" | "same" | number,
  dimRoundingMode?: Rounding,
): Tensor5D {
  return run(AvgPool3DGrad, { dy, input }, { filterSize, strides, pad, dimRoundingMode });
}

export function conv3DBackpropInput(
  xShape: [number, number, number, number, number],
  dy: Tensor5D,
  filter: Tensor5D,
  strides: Triple,
  pad: "valid" | "same",
): Tensor5D {
  return run(Conv3DBackpropInputV2, { dy, filter }, { pad, strides, inputShape: xShape });
}

export function conv3DBackpropFilter(
  x: Tensor5D,
  dy: Tensor5D,
  filterShape: [number, number, number, number, number],
  strides: Triple,
  pad: "valid" | "same",
): Tensor5D {
  return run(Conv3DBackpropFilterV2, { x, dy }, { strides, pad, filterShape });
}

export function localResponseNormalizationBackprop<T extends Tensor4D>(
  x: T,
  y: T,
  dy: T,
  depthRadius = 5,
  bias = 1,
  alpha = 1,
  beta = 0.5,
): T {
  return run(LRNGrad, { x, y, dy }, { depthRadius, bias, alpha, beta });
}

export const parseAxisParam = util.parseAxisParam;
export const parseSliceParams = slice_util.parseSliceParams;
export const SELU_SCALE = backend_util.SELU_SCALE;
export const SELU_SCALEALPHA = backend_util.SELU_SCALEALPHA;
export const getReductionAxes = backend_util.getReductionAxes;
export const assertAndGetBroadcastShape = backend_util.assertAndGetBroadcastShape;
export const getAxesPermutation = backend_util.getAxesPermutation;
export const getUndoAxesPermutation = backend_util.getUndoAxesPermutation;
export const computeOutAndReduceShapes = backend_util.computeOutAndReduceShapes;
export const tupleValuesAreOne = backend_util.tupleValuesAreOne;
/** tfjs-core's internal `ops/conv_util` module; `backend_util` re-exports all of it. */
export const conv_util = backend_util;
/** tfjs-core's internal `ops/axis_util` module; `backend_util` re-exports all of it. */
export const axis_util = backend_util;
