/**
 * @license Apache-2.0. Copyright Google LLC. GENERATED FILE, do not edit: run
 * `node src/backend/gradients/generate-core-gradients.mjs` (see that script for why).
 *
 * The gradient functions of @tensorflow/tfjs-core 4.22.0 (src/gradients/*.ts, taken from the
 * source maps it ships), with imports rewritten to its public API so that they register into the
 * one tfjs-core instance of the workspace.
 */
// @ts-nocheck -- upstream type-checks this code without strictNullChecks/strictFunctionTypes.
// biome-ignore-all lint: generated code, kept as close to upstream as possible
import {
  Abs,
  Acos,
  Acosh,
  Add,
  AddN,
  ArgMax,
  ArgMin,
  Asin,
  Asinh,
  Atan,
  Atan2,
  Atanh,
  AvgPool,
  AvgPool3D,
  BatchMatMul,
  BatchToSpaceND,
  BroadcastTo,
  Cast,
  Ceil,
  ClipByValue,
  ComplexAbs,
  Concat,
  Conv2D,
  Conv2DBackpropInput,
  Conv3D,
  Cos,
  Cosh,
  Cumsum,
  DepthwiseConv2dNative,
  Dilation2D,
  Dilation2DBackpropFilter,
  Dilation2DBackpropInput,
  Elu,
  EluGrad,
  Erf,
  Exp,
  ExpandDims,
  Expm1,
  Floor,
  FloorDiv,
  FusedBatchNorm,
  GatherV2,
  GreaterEqual,
  Identity,
  IsFinite,
  IsInf,
  IsNan,
  LRN,
  LeakyRelu,
  Log,
  Log1p,
  LogSoftmax,
  Max,
  MaxPool,
  MaxPool3D,
  Maximum,
  Mean,
  Min,
  Minimum,
  MirrorPad,
  Mod,
  Multiply,
  Neg,
  OneHot,
  OnesLike,
  Pack,
  PadV2,
  Pow,
  Prelu,
  Prod,
  Rank,
  RealDiv,
  Reciprocal,
  Relu,
  Relu6,
  Reshape,
  ResizeBilinear,
  ResizeBilinearGrad,
  ResizeNearestNeighbor,
  ResizeNearestNeighborGrad,
  Reverse,
  Round,
  Rsqrt,
  Select,
  Selu,
  Sigmoid,
  Sign,
  Sin,
  Sinh,
  Slice,
  Softmax,
  Softplus,
  SpaceToBatchND,
  SplitV,
  Sqrt,
  Square,
  SquaredDifference,
  Step,
  Sub,
  Sum,
  Tan,
  Tanh,
  Tensor,
  Tile,
  Transpose,
  Unpack,
  UnsortedSegmentSum,
  ZerosLike,
  add,
  backend_util,
  batchToSpaceND,
  broadcast_util,
  cast,
  concat,
  conv2d,
  cos,
  cosh,
  cumprod,
  cumsum,
  div,
  equal,
  exp,
  expandDims,
  floor,
  gather,
  greater,
  greaterEqual,
  less,
  lessEqual,
  log,
  logicalAnd,
  logicalNot,
  matMul,
  maximum,
  mul,
  neg,
  ones,
  pad,
  pow,
  reshape,
  reverse,
  rsqrt,
  scalar,
  sigmoid,
  sin,
  sinh,
  slice,
  spaceToBatchND,
  split,
  sqrt,
  square,
  stack,
  step,
  sub,
  sum,
  tile,
  transpose,
  unsortedSegmentSum,
  unstack,
  util,
  where,
  zeros,
  zerosLike,
  type AvgPool3DAttrs,
  type AvgPoolAttrs,
  type BatchMatMulAttrs,
  type BatchToSpaceNDAttrs,
  type BroadCastToAttrs,
  type ClipByValueAttrs,
  type ConcatAttrs,
  type Conv2DAttrs,
  type Conv2DBackpropInputAttrs,
  type Conv3DAttrs,
  type CumsumAttrs,
  type DepthwiseConv2dNativeAttrs,
  type Dilation2DBackpropFilterInputs,
  type Dilation2DBackpropInputInputs,
  type EluGradInputs,
  type FusedBatchNormAttrs,
  type GatherV2Attrs,
  type GradConfig,
  type LRNAttrs,
  type LeakyReluAttrs,
  type LogSoftmaxAttrs,
  type MaxAttrs,
  type MaxPool3DAttrs,
  type MaxPoolAttrs,
  type MeanAttrs,
  type MinAttrs,
  type MirrorPadAttrs,
  type NamedAttrMap,
  type NamedTensorMap,
  type PackAttrs,
  type PadV2Attrs,
  type ProdAttrs,
  type ResizeBilinearGradInputs,
  type ResizeNearestNeighborGradInputs,
  type ReverseAttrs,
  type ShapeMap,
  type SliceAttrs,
  type SoftmaxAttrs,
  type SpaceToBatchNDAttrs,
  type SplitVAttrs,
  type SumAttrs,
  type Tensor1D,
  type Tensor3D,
  type Tensor4D,
  type Tensor5D,
  type TileAttrs,
  type TransposeAttrs,
  type UnpackAttrs,
} from "@tensorflow/tfjs-core";
import {
  ENGINE,
  SELU_SCALE,
  SELU_SCALEALPHA,
  assertAndGetBroadcastShape,
  avgPool3dGrad,
  avgPoolGrad,
  axis_util,
  computeOutAndReduceShapes,
  conv2DBackpropFilter,
  conv2DBackpropInput,
  conv3DBackpropFilter,
  conv3DBackpropInput,
  conv_util,
  depthwiseConv2dNativeBackpropFilter,
  depthwiseConv2dNativeBackpropInput,
  getAxesPermutation,
  getReductionAxes,
  getUndoAxesPermutation,
  localResponseNormalizationBackprop,
  maxPool3dGrad,
  maxPoolGrad,
  parseAxisParam,
  parseSliceParams,
  tupleValuesAreOne,
} from "./internal-ops.js";

/** GradConfig with a method-style (bivariant) gradFunc, as upstream's non-strict build checks it. */
interface UpstreamGradConfig {
  kernelName: string;
  inputsToSave?: string[];
  saveAllInputs?: boolean;
  outputsToSave?: boolean[];
  gradFunc(dy: Tensor | Tensor[], saved: Tensor[], attrs: NamedAttrMap): { [name: string]: () => Tensor };
}

// ---- Abs_grad.ts
export const absGradConfig: UpstreamGradConfig = {
  kernelName: Abs,
  inputsToSave: ['x'],
  gradFunc: (dy: Tensor, saved: Tensor[]) => {
    const [x] = saved;
    return {x: () => mul(dy, step(cast(x, 'float32'), -1))};
  }
};

// ---- Acos_grad.ts
export const acosGradConfig: UpstreamGradConfig = {
  kernelName: Acos,
  inputsToSave: ['x'],
  gradFunc: (dy: Tensor, saved: Tensor[]) => {
    const [x] = saved;

    return {
      x: () => {
        const a = square(cast(x, 'float32'));
        const b = sqrt(sub(scalar(1), a));
        return neg(div(dy, b));
      }

    };
  }
};

// ---- Acosh_grad.ts
export const acoshGradConfig: UpstreamGradConfig = {
  kernelName: Acosh,
  inputsToSave: ['x'],
  gradFunc: (dy: Tensor, saved: Tensor[]) => {
    const [x] = saved;

    return {
      x: () => {
        const a = sqrt(sub(square(cast(x, 'float32')), 1));
        return div(dy, a);
      }
    };
  }
};

// ---- AddN_grad.ts
export const addNGradConfig: UpstreamGradConfig = {
  kernelName: AddN,
  saveAllInputs: true,
  gradFunc: (dy: Tensor, saved: Tensor[]) => {
    const ders: {[key: string]: () => Tensor} = {};
    saved.forEach((_, i) => {
      ders[i] = () => dy.clone();
    });
    return ders;
  }
};

// ---- Add_grad.ts
export const addGradConfig: UpstreamGradConfig = {
  kernelName: Add,
  inputsToSave: ['a', 'b'],
  gradFunc: (dy: Tensor, saved: Tensor[]) => {
    const [a, b] = saved;
    const outShape =
        broadcast_util.assertAndGetBroadcastShape(a.shape, b.shape);

    const derA = () => {
      let res = dy;
      const reduceAxes = broadcast_util.getReductionAxes(a.shape, outShape);
      if (reduceAxes.length > 0) {
        res = sum(res, reduceAxes);
      }
      return reshape(res, a.shape);
    };
    const derB = () => {
      let res = dy;
      const reduceAxes = broadcast_util.getReductionAxes(b.shape, outShape);
      if (reduceAxes.length > 0) {
        res = sum(res, reduceAxes);
      }
      return reshape(res, b.shape);
    };

    return {a: derA, b: derB};
  }
};

// ---- ArgMax_grad.ts
export const argMaxGradConfig: UpstreamGradConfig = {
  kernelName: ArgMax,
  inputsToSave: ['x'],
  gradFunc: (dy: Tensor, saved: Tensor[]) => {
    const [x] = saved;
    return {x: () => zerosLike(x)};
  }
};

// ---- ArgMin_grad.ts
export const argMinGradConfig: UpstreamGradConfig = {
  kernelName: ArgMin,
  inputsToSave: ['x'],
  gradFunc: (dy: Tensor, saved: Tensor[]) => {
    const [x] = saved;
    return {x: () => zerosLike(x)};
  }
};

// ---- Asin_grad.ts
export const asinGradConfig: UpstreamGradConfig = {
  kernelName: Asin,
  inputsToSave: ['x'],
  gradFunc: (dy: Tensor, saved: Tensor[]) => {
    const [x] = saved;
    return {x: () => div(dy, sqrt(sub(scalar(1), square(cast(x, 'float32')))))};
  }
};

// ---- Asinh_grad.ts
export const asinhGradConfig: UpstreamGradConfig = {
  kernelName: Asinh,
  inputsToSave: ['x'],
  gradFunc: (dy: Tensor, saved: Tensor[]) => {
    const [x] = saved;

    return {
      x: () => {
        const a = sqrt(add(scalar(1), square(cast(x, 'float32'))));
        return div(dy, a);
      }
    };
  }
};

// ---- Atan2_grad.ts
export const atan2GradConfig: UpstreamGradConfig = {
  kernelName: Atan2,
  inputsToSave: ['a', 'b'],
  gradFunc: (dy: Tensor, saved: Tensor[]) => {
    const [a, b] = saved;
    const outShape = assertAndGetBroadcastShape(a.shape, b.shape);

    const derA = () => {
      const d = add(square(a), square(b));
      let res = mul(dy, div(b, d));
      const reduceAxes = getReductionAxes(a.shape, outShape);
      if (reduceAxes.length > 0) {
        res = sum(res, reduceAxes);
      }
      return reshape(res, a.shape);
    };
    const derB = () => {
      const d = add(square(a), square(b));
      let res = neg(mul(dy, div(a, d)));
      const reduceAxes = getReductionAxes(b.shape, outShape);
      if (reduceAxes.length > 0) {
        res = sum(res, reduceAxes);
      }
      return reshape(res, b.shape);
    };
    return {a: derA, b: derB};
  }
};

// ---- Atan_grad.ts
export const atanGradConfig: UpstreamGradConfig = {
  kernelName: Atan,
  inputsToSave: ['x'],
  gradFunc: (dy: Tensor, saved: Tensor[]) => {
    const [x] = saved;

    return {x: () => div(dy, add(square(cast(x, 'float32')), 1))};
  }
};

// ---- Atanh_grad.ts
export const atanhGradConfig: UpstreamGradConfig = {
  kernelName: Atanh,
  inputsToSave: ['x'],
  gradFunc: (dy: Tensor, saved: Tensor[]) => {
    const [x] = saved;

    return {x: () => div(dy, sub(scalar(1), square(cast(x, 'float32'))))};
  }
};

// ---- AvgPool3D_grad.ts
export const avgPool3DGradConfig: UpstreamGradConfig = {
  kernelName: AvgPool3D,
  inputsToSave: ['x'],
  gradFunc: (dy: Tensor, saved: Tensor[], attrs: NamedAttrMap) => {
    const [x] = saved as [Tensor5D];
    const {filterSize, strides, pad, dimRoundingMode} =
        attrs as unknown as AvgPool3DAttrs;

    return {
      x: () => avgPool3dGrad(
          dy as Tensor5D, x, filterSize, strides, pad, dimRoundingMode)
    };
  }
};

// ---- AvgPool_grad.ts
export const avgPoolGradConfig: UpstreamGradConfig = {
  kernelName: AvgPool,
  inputsToSave: ['x'],
  gradFunc: (dy: Tensor, saved: Tensor[], attrs: NamedAttrMap) => {
    const [x] = saved as [Tensor4D];
    const {filterSize, strides, pad} = attrs as unknown as AvgPoolAttrs;
    return {x: () => avgPoolGrad(dy as Tensor4D, x, filterSize, strides, pad)};
  }
};

// ---- BatchMatMul_grad.ts
export const batchMatMulGradConfig: UpstreamGradConfig = {
  kernelName: BatchMatMul,
  inputsToSave: ['a', 'b'],
  gradFunc: (dy: Tensor, saved: Tensor[], attrs: NamedAttrMap) => {
    const [a, b] = saved;

    const {transposeA, transposeB} = attrs as unknown as BatchMatMulAttrs;

    if (!transposeA && !transposeB) {
      return {
        a: () => matMul(dy, b, false, true),
        b: () => matMul(a, dy, true, false)
      };
    } else if (!transposeA && transposeB) {
      return {
        a: () => matMul(dy, b, false, false),
        b: () => matMul(dy, a, true, false)
      };
    } else if (transposeA && !transposeB) {
      return {
        a: () => matMul(b, dy, false, true),
        b: () => matMul(a, dy, false, false)
      };
    } else {
      return {
        a: () => matMul(b, dy, true, true),
        b: () => matMul(dy, a, true, true)
      };
    }
  }
};

// ---- BatchToSpaceND_grad.ts
export const batchToSpaceNDGradConfig: UpstreamGradConfig = {
  kernelName: BatchToSpaceND,
  gradFunc: (dy: Tensor, saved: Tensor[], attrs: NamedAttrMap) => {
    const {blockShape, crops} = attrs as unknown as BatchToSpaceNDAttrs;
    return {x: () => spaceToBatchND(dy, blockShape, crops)};
  }
};

// ---- BroadcastTo_grad.ts
export const broadcastToGradConfig: UpstreamGradConfig = {
  kernelName: BroadcastTo,
  gradFunc: (dy: Tensor, saved: Tensor[], attrs: NamedAttrMap) => {
    const broadCastToAttrs: BroadCastToAttrs =
        attrs as unknown as BroadCastToAttrs;

    const inputShape = broadCastToAttrs.inputShape;
    const outputShape = broadCastToAttrs.shape;

    const reps: number[] = Array.from(outputShape);
    for (let i = inputShape.length - 1; i >= 0; i--) {
      if (inputShape[i] === outputShape[i]) {
        reps[i] = 1;
      } else if (inputShape[i] !== 1) {
        throw new Error(`broadcastTo(): [${
            inputShape}] cannot be broadcast to [${outputShape}].`);
      }
    }
    const axes: number[] = [];
    for (let i = 0; i < reps.length; i++) {
      if (reps[i] > 1) {
        axes.push(i);
      }
    }

    return {x: () => sum(dy, axes, true /* keepDims */)};
  }
};

// ---- Cast_grad.ts
export const castGradConfig: UpstreamGradConfig = {
  kernelName: Cast,
  gradFunc: (dy: Tensor) => {
    return {x: () => dy.clone()};
  }
};

// ---- Ceil_grad.ts
export const ceilGradConfig: UpstreamGradConfig = {
  kernelName: Ceil,
  gradFunc: (dy: Tensor) => {
    // TODO(manrajgrover): Return null for gradients when backprop supports it.
    return {x: () => zerosLike(dy)};
  }
};

// ---- ClipByValue_grad.ts
export const clipByValueGradConfig: UpstreamGradConfig = {
  kernelName: ClipByValue,
  inputsToSave: ['x'],
  gradFunc: (dy: Tensor, saved: Tensor[], attrs: NamedAttrMap) => {
    const [x] = saved;
    const {clipValueMin, clipValueMax} = attrs as unknown as ClipByValueAttrs;
    return {
      x: () => where(
          logicalAnd(greaterEqual(x, clipValueMin), lessEqual(x, clipValueMax)),
          dy, zerosLike(dy)),
    };
  }
};

// ---- ComplexAbs_grad.ts
export const complexAbsGradConfig: UpstreamGradConfig = {
  kernelName: ComplexAbs,
  inputsToSave: ['x'],
  gradFunc: absGradConfig.gradFunc,
};

// ---- Concat_grad.ts
export const concatGradConfig: UpstreamGradConfig = {
  kernelName: Concat,
  saveAllInputs: true,
  gradFunc: (dy: Tensor, saved: Tensor[], attrs: NamedAttrMap) => {
    const shapes = saved.map(t => t.shape);
    const {axis} = attrs as unknown as ConcatAttrs;
    const $axis = parseAxisParam(axis, saved[0].shape)[0];
    const sizeSplits = shapes.map(s => s[$axis]);
    const derTensors = split(dy, sizeSplits, $axis);
    return derTensors.map(t => () => t) as {};
  }
};

// ---- Conv2DBackpropInput_grad.ts
export const conv2DBackpropInputGradConfig: UpstreamGradConfig = {
  kernelName: Conv2DBackpropInput,
  inputsToSave: ['dy', 'filter'],
  gradFunc: (ddx: Tensor4D, saved: Tensor[], attrs: NamedAttrMap) => {
    const [dy, filter] = saved as [Tensor4D, Tensor4D];

    const {strides, pad, dataFormat, dimRoundingMode} =
        attrs as unknown as Conv2DBackpropInputAttrs;

    return {
      dy: () => conv2d(
          ddx, filter, strides, pad, dataFormat, 1 /* dilations */,
          dimRoundingMode),
      filter: () => conv2DBackpropFilter(
          ddx, dy, filter.shape, strides, pad, dataFormat, dimRoundingMode)
    };
  }
};

// ---- Conv2D_grad.ts
export const conv2DGradConfig: UpstreamGradConfig = {
  kernelName: Conv2D,
  inputsToSave: ['x', 'filter'],
  gradFunc: (dy: Tensor4D, saved: Tensor[], attrs: NamedAttrMap) => {
    const [x4D, $filter] = saved as [Tensor4D, Tensor4D];
    const {dilations, strides, pad, dataFormat} =
        attrs as unknown as Conv2DAttrs;

    util.assert(
        conv_util.tupleValuesAreOne(dilations),
        () => 'Error in gradient of conv2D: dilation rates greater than 1 ' +
            `are not yet supported in gradients. Got dilations '${dilations}'`);

    return {
      x: () =>
          conv2DBackpropInput(x4D.shape, dy, $filter, strides, pad, dataFormat),
      filter: () =>
          conv2DBackpropFilter(x4D, dy, $filter.shape, strides, pad, dataFormat)
    };
  }
};

// ---- Conv3D_grad.ts
export const conv3DGradConfig: UpstreamGradConfig = {
  kernelName: Conv3D,
  inputsToSave: ['x', 'filter'],
  gradFunc: (dy: Tensor5D, saved: Tensor[], attrs: NamedAttrMap) => {
    const {dilations, strides, pad} = attrs as unknown as Conv3DAttrs;
    util.assert(
        tupleValuesAreOne(dilations),
        () =>
            'Error in gradient of conv3D: dilation rates greater than 1 are ' +
            `not yet supported in gradients. Got dilations '${dilations}'`);

    const [x5D, $filter] = saved;

    return {
      x: () => conv3DBackpropInput(
          (x5D as Tensor5D).shape, dy, $filter as Tensor5D, strides, pad),
      filter: () => conv3DBackpropFilter(
          x5D as Tensor5D, dy, ($filter as Tensor5D).shape, strides, pad)
    };
  }
};

// ---- Cos_grad.ts
export const cosGradConfig: UpstreamGradConfig = {
  kernelName: Cos,
  inputsToSave: ['x'],
  gradFunc: (dy: Tensor, saved: Tensor[]) => {
    const [x] = saved;

    return {x: () => mul(neg(sin(cast(x, 'float32'))), dy)};
  }
};

// ---- Cosh_grad.ts
export const coshGradConfig: UpstreamGradConfig = {
  kernelName: Cosh,
  inputsToSave: ['x'],
  gradFunc: (dy: Tensor, saved: Tensor[]) => {
    const [x] = saved;

    return {x: () => mul(sinh(cast(x, 'float32')), dy)};
  }
};

// ---- Cumsum_grad.ts
export const cumsumGradConfig: UpstreamGradConfig = {
  kernelName: Cumsum,
  inputsToSave: ['x'],
  gradFunc: (dy: Tensor, saved: Tensor[], attrs: NamedAttrMap) => {
    const [x] = saved;
    const {axis, exclusive, reverse}: CumsumAttrs =
        attrs as unknown as CumsumAttrs;

    return {
      x: () => {
        const permutation = getAxesPermutation([axis], x.rank);

        let out = cumsum(dy, axis, exclusive, !reverse);

        if (permutation != null) {
          out = transpose(out, permutation);
        }

        return out;
      }
    };
  }
};

// ---- DepthwiseConv2dNative_grad.ts
export const depthwiseConv2dNativeGradConfig: UpstreamGradConfig = {
  kernelName: DepthwiseConv2dNative,
  inputsToSave: ['x', 'filter'],
  gradFunc: (dy: Tensor4D, saved: Tensor[], attrs: NamedAttrMap) => {
    const {dilations, strides, pad, dimRoundingMode} =
        attrs as unknown as DepthwiseConv2dNativeAttrs;
    const $dilations = dilations == null ? [1, 1] as[number,number] : dilations;

    util.assert(
        conv_util.tupleValuesAreOne($dilations),
        () => 'Error in gradient of depthwiseConv2dNative: dilation rates ' +
            `greater than 1 are not yet supported. Got dilations ` +
            `'${$dilations}'`);

    const [x, filter] = saved as [Tensor4D, Tensor4D];

    util.assert(
        x.rank === 4,
        () => `Error in gradient of depthwiseConv2dNative: input must be ` +
            `rank 4, but got rank ${x.rank}.`);
    util.assert(
        filter.rank === 4,
        () => `Error in gradient of depthwiseConv2dNative: filter must be ` +
            `rank 4, but got rank ${filter.rank}.`);
    util.assert(
        x.shape[3] === filter.shape[2],
        () => `Error in gradient of depthwiseConv2d: number of input ` +
            `channels (${x.shape[3]}) must match the inChannels dimension ` +
            `in filter ${filter.shape[2]}.`);

    util.assert(
        conv_util.eitherStridesOrDilationsAreOne(strides, $dilations),
        () => 'Error in gradient of depthwiseConv2d: Either strides or ' +
            `dilations must be  1. Got strides ${strides} and dilations ` +
            `'${$dilations}'.`);

    conv_util.checkPadOnDimRoundingMode(
        'depthwiseConv2d', pad, dimRoundingMode);

    return {
      x: () => depthwiseConv2dNativeBackpropInput(
          x.shape, dy, filter, strides, pad, $dilations, dimRoundingMode),
      filter: () => depthwiseConv2dNativeBackpropFilter(
          x, dy, filter.shape, strides, pad, $dilations, dimRoundingMode),
    };
  }
};

// ---- Dilation2D_grad.ts
export const dilation2dGradConfig: UpstreamGradConfig = {
  kernelName: Dilation2D,
  inputsToSave: ['x', 'filter'],
  gradFunc: (dy: Tensor4D, saved: Tensor[], attrs: NamedAttrMap) => {
    const [x, filter] = saved as [Tensor4D, Tensor3D];

    const inputInputs: Dilation2DBackpropInputInputs = {x, filter, dy};
    const filterInputs: Dilation2DBackpropFilterInputs = {x, filter, dy};

    return {
      x: () => ENGINE.runKernel(
          Dilation2DBackpropInput,
          inputInputs as unknown as NamedTensorMap, attrs),
      filter: () => ENGINE.runKernel(
          Dilation2DBackpropFilter,
          filterInputs as unknown as NamedTensorMap, attrs)
    };
  }
};

// ---- Elu_grad.ts
export const eluGradConfig: UpstreamGradConfig = {
  kernelName: Elu,
  outputsToSave: [true],
  gradFunc: (dy: Tensor, saved: Tensor[]) => {
    const [y] = saved;

    const inputs: EluGradInputs = {dy, y};

    return {x: () => ENGINE.runKernel(EluGrad,
                                      inputs as unknown as NamedTensorMap)};
  }
};

// ---- Erf_grad.ts
export const erfGradConfig: UpstreamGradConfig = {
  kernelName: Erf,
  inputsToSave: ['x'],
  gradFunc: (dy: Tensor, saved: Tensor[]) => {
    const [x] = saved;
    const a = mul(exp(neg(square(x))), 2 / Math.sqrt(Math.PI));
    return {x: () => mul(dy, a)};
  }
};

// ---- Exp_grad.ts
export const expGradConfig: UpstreamGradConfig = {
  kernelName: Exp,
  outputsToSave: [true],
  gradFunc: (dy: Tensor, saved: Tensor[]) => {
    const [y] = saved;
    return {x: () => mul(dy, y)};
  }
};

// ---- ExpandDims_grad.ts
export const expandDimsGradConfig: UpstreamGradConfig = {
  kernelName: ExpandDims,
  inputsToSave: ['input'],
  gradFunc: (dy: Tensor, saved: Tensor[]) => {
    const [input] = saved;
    return {input: () => reshape(dy, input.shape)};
  }
};

// ---- Expm1_grad.ts
export const expm1GradConfig: UpstreamGradConfig = {
  kernelName: Expm1,
  inputsToSave: ['x'],
  gradFunc: (dy: Tensor, saved: Tensor[]) => {
    const [x] = saved;
    return {x: () => mul(dy, exp(x))};
  }
};

// ---- FloorDiv_grad.ts
export const floorDivGradConfig: UpstreamGradConfig = {
  kernelName: FloorDiv,
  inputsToSave: ['a', 'b'],
  gradFunc: (dy: Tensor, saved: Tensor[]) => {
    const [a, b] = saved;
    const outShape = assertAndGetBroadcastShape(a.shape, b.shape);

    const derA = () => {
      const res = div(dy, cast(b, 'float32'));
      const reduceAxes = getReductionAxes(a.shape, outShape);
      if (reduceAxes.length > 0) {
        return reshape(sum(res, reduceAxes), a.shape);
      }
      return res;
    };
    const derB = () => {
      let res = mul(dy, cast(a, 'float32'));
      const reduceAxes = getReductionAxes(b.shape, outShape);
      if (reduceAxes.length > 0) {
        res = reshape(sum(res, reduceAxes), b.shape);
      }
      const tmp = square(b);
      return neg(div(res, cast(tmp, 'float32')));
    };
    return {a: derA, b: derB};
  }
};

// ---- Floor_grad.ts
export const floorGradConfig: UpstreamGradConfig = {
  kernelName: Floor,
  gradFunc: (dy: Tensor) => {
    return {x: () => zerosLike(dy)};
  }
};

// ---- FusedBatchNorm_grad.ts
export const fusedBatchNormGradConfig: UpstreamGradConfig = {
  kernelName: FusedBatchNorm,
  inputsToSave: ['x', 'mean', 'variance', 'scale'],
  gradFunc: <R extends Rank>(
      dy: Tensor, saved: Tensor[], attrs: NamedAttrMap) => {
    const {varianceEpsilon} = attrs as unknown as FusedBatchNormAttrs;
    const [x, mean, variance, scale] = saved;

    const scaleValue = scale == null ? scalar(1) : scale;
    const reductionAxes = getReductionAxes(mean.shape, x.shape);
    const tileShape: number[] = [];
    if (mean.rank === 1) {
      for (let i = 0; i < x.shape.length - 1; ++i) {
        tileShape.push(x.shape[i]);
      }
      tileShape.push(1);
    }

    const xMinusMean = sub(x, mean);
    const dyTimesScaleValue = mul(dy, scaleValue);
    const oneOverSqrtVariance = rsqrt(add(variance, scalar(varianceEpsilon)));
    const minusHalfRCube = mul(
        mul(mul(oneOverSqrtVariance, oneOverSqrtVariance), oneOverSqrtVariance),
        scalar(-0.5));

    const derX = () => {
      if (mean.rank === 1) {
        return reshape(
            mul(mul(dy,
                    tile(
                        reshape(oneOverSqrtVariance, [1, 1, 1, mean.shape[0]]),
                        tileShape)),
                scaleValue),
            x.shape);
      } else {
        return reshape(mul(mul(dy, oneOverSqrtVariance), scaleValue), x.shape);
      }
    };
    const derMean = () => {
      let meanDer =
          mul(mul(oneOverSqrtVariance, scalar(-1)), dyTimesScaleValue);
      if (mean.rank === 1) {
        meanDer = sum(meanDer, reductionAxes);
      }
      return reshape(meanDer, mean.shape as ShapeMap[R]);
    };
    const derVariance = () => {
      let varianceDer = mul(mul(minusHalfRCube, xMinusMean), dyTimesScaleValue);

      if (mean.rank === 1) {
        varianceDer = sum(varianceDer, reductionAxes);
      }
      return reshape(varianceDer, mean.shape as ShapeMap[R]);
    };
    const derScale = () => {
      const xMinusMean2TimesRsqrt = mul(xMinusMean, oneOverSqrtVariance);

      let scaleDer = mul(dy, xMinusMean2TimesRsqrt);
      if (mean.rank === 1) {
        scaleDer = sum(scaleDer, reductionAxes);
      }
      return reshape(scaleDer, mean.shape as ShapeMap[R]);
    };
    const derOffset = () => {
      let offsetDer = dy;
      if (mean.rank === 1) {
        offsetDer = sum(offsetDer, reductionAxes);
      }
      return reshape(offsetDer, mean.shape as ShapeMap[R]);
    };

    return {
      x: derX,
      mean: derMean,
      variance: derVariance,
      scale: derScale,
      offset: derOffset
    };
  }
};

// ---- GatherV2_grad.ts
export const gatherGradConfig: UpstreamGradConfig = {
  kernelName: GatherV2,
  inputsToSave: ['x', 'indices'],
  gradFunc: (dy: Tensor, saved: Tensor[], attrs: NamedAttrMap) => {
    const [x, indices] = saved;
    const {axis, batchDims} = attrs as unknown as GatherV2Attrs;

    const parsedAxis = parseAxisParam(axis, x.shape)[0];

    const derXBatch = (x: Tensor, indices: Tensor, dy: Tensor) => {
      return (): Tensor => {
        const paramsShape = x.shape;
        const indicesSize = indices.size;

        const outerShape = paramsShape.slice(0, parsedAxis);
        const outerDims = outerShape.length;
        const innerShape = paramsShape.slice(axis, paramsShape.length).slice(1);
        const innerDims = innerShape.length;

        const outerAxesIndices = arrayRange(0, outerDims);
        const innerAxesIndices =
            arrayRange(outerDims + 1, outerDims + 1 + innerDims);

        const valuesShape = arrayConcat([outerShape, [indicesSize],
                                         innerShape]);

        const values = reshape(dy, valuesShape);
        const reshapedIndices = reshape(indices, [indicesSize]);

        const transposeDims =
            arrayConcat([[outerDims], outerAxesIndices, innerAxesIndices]);
        const valuesTranspose = transpose(values, transposeDims);
        let paramsGrad = unsortedSegmentSum(
            valuesTranspose, reshapedIndices as Tensor1D, x.shape[parsedAxis]);
        const invertTransposeDims = getUndoAxesPermutation(transposeDims);
        paramsGrad = transpose(paramsGrad, invertTransposeDims);
        return paramsGrad;
      };
    };

    if (batchDims === 1) {
      const batchSize = x.shape[0];
      const xBatch = split(x, batchSize, 0);
      const derXBatched = () => {
        const stacked = stack(
          xBatch.map((x, i) => {
            return derXBatch(x, slice(indices, i, 1), slice(dy, i, 1))();
          }));
        return reshape(stacked, x.shape);
      };
      return {x: derXBatched, indices: () => indices};
    } else {
      return {x: derXBatch(x, indices, dy), indices: () => indices};
    }
  }
};

function arrayRange(start: number, stop: number): number[] {
  const result = [];
  for (let i = start; i < stop; ++i) {
    result.push(i);
  }
  return result;
}

function arrayConcat(arrays: number[][]): number[] {
  const result = [];
  for (let i = 0; i < arrays.length; ++i) {
    for (let j = 0; j < arrays[i].length; ++j) {
      result.push(arrays[i][j]);
    }
  }
  return result;
}

// ---- GreaterEqual_grad.ts
export const greaterEqualGradConfig: UpstreamGradConfig = {
  kernelName: GreaterEqual,
  inputsToSave: ['a', 'b'],
  gradFunc: (dy: Tensor, saved: Tensor[]) => {
    const [a, b] = saved;
    return {a: () => zerosLike(a), b: () => zerosLike(b)};
  }
};

// ---- Identity_grad.ts
export const identityGradConfig: UpstreamGradConfig = {
  kernelName: Identity,
  gradFunc: (dy: Tensor) => {
    return {x: () => cast(dy, 'float32')};
  }
};

// ---- IsFinite_grad.ts
export const isFiniteGradConfig: UpstreamGradConfig = {
  kernelName: IsFinite,
  gradFunc: (dy: Tensor) => {
    // TODO(nsthorat): Let gradients be null for cases where we want to stop
    // backpropgation.
    return {x: () => zerosLike(dy)};
  }
};

// ---- IsInf_grad.ts
/**
 * @license
 * Copyright 2020 Google LLC. All Rights Reserved.
 * Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 * http://www.apache.org/licenses/LICENSE-2.0
 *
 * Unless required by applicable law or agreed to in writing, software
 * distributed under the License is distributed on an "AS IS" BASIS,
 * WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
 * See the License for the specific language governing permissions and
 * limitations under the License.
 * =============================================================================
 */

export const isInfGradConfig: UpstreamGradConfig = {
  kernelName: IsInf,
  gradFunc: (dy: Tensor) => {
    // TODO(nsthorat): Let gradients be null for cases where we want to stop
    // backpropgation.
    return {x: () => zerosLike(dy)};
  }
};

// ---- IsNan_grad.ts
export const isNanGradConfig: UpstreamGradConfig = {
  kernelName: IsNan,
  gradFunc: (dy: Tensor) => {
    // TODO(nsthorat): Let gradients be null for cases where we want to stop
    // backpropgation.
    return {x: () => zerosLike(dy)};
  }
};

// ---- LRN_grad.ts
export const lrnGradConfig: UpstreamGradConfig = {
  kernelName: LRN,
  inputsToSave: ['x'],
  outputsToSave: [true],
  gradFunc: (dy: Tensor4D, saved: Tensor[], attrs: NamedAttrMap) => {
    const [x, y] = saved as [Tensor4D, Tensor4D];
    const {depthRadius, bias, alpha, beta} = attrs as unknown as LRNAttrs;

    return {
      x: () => localResponseNormalizationBackprop(
          x, y, dy, depthRadius, bias, alpha, beta)
    };
  }
};

// ---- LeakyRelu_grad.ts
export const leakyReluGradConfig: UpstreamGradConfig = {
  kernelName: LeakyRelu,
  inputsToSave: ['x'],
  gradFunc: (dy: Tensor, saved: Tensor[], attrs: NamedAttrMap) => {
    const [x] = saved;
    const {alpha} = attrs as unknown as LeakyReluAttrs;
    const mask = greater(x, 0);

    // Returns `gradients * (features > 0) + alpha * gradients * (features <=
    // 0)`.
    return {x: () => where(mask, dy, mul(dy, alpha))};
  }
};

// ---- Log1p_grad.ts
export const log1pGradConfig: UpstreamGradConfig = {
  kernelName: Log1p,
  inputsToSave: ['x'],
  gradFunc: (dy: Tensor, saved: Tensor[]) => {
    const [x] = saved;
    return {x: () => div(dy, add(x, 1))};
  }
};

// ---- LogSoftmax_grad.ts
export const logSoftmaxGradConfig: UpstreamGradConfig = {
  kernelName: LogSoftmax,
  inputsToSave: [],
  outputsToSave: [true],
  gradFunc: (dy: Tensor, saved: Tensor[], attrs: NamedAttrMap) => {
    const [value] = saved;
    const {axis} = attrs as unknown as LogSoftmaxAttrs;
    return {
      logits: () => {
        const keepDims = true;
        const softmax = exp(value);
        return sub(dy, mul(sum(dy, axis, keepDims), softmax));
      }
    };
  }
};

// ---- Log_grad.ts
export const logGradConfig: UpstreamGradConfig = {
  kernelName: Log,
  inputsToSave: ['x'],
  gradFunc: (dy: Tensor, saved: Tensor[]) => {
    const [x] = saved;
    return {x: () => div(dy, cast(x, 'float32'))};
  }
};

// ---- MaxPool3D_grad.ts
export const maxPool3DGradConfig: UpstreamGradConfig = {
  kernelName: MaxPool3D,
  inputsToSave: ['x'],
  outputsToSave: [true],
  gradFunc: (dy: Tensor, saved: Tensor[], attrs: NamedAttrMap) => {
    const [x, y] = saved as [Tensor5D, Tensor5D];
    const {filterSize, strides, pad, dimRoundingMode} =
        attrs as unknown as MaxPool3DAttrs;

    return {
      x: () => maxPool3dGrad(
          dy as Tensor5D, x, y, filterSize, strides, pad, dimRoundingMode)
    };
  }
};

// ---- MaxPool_grad.ts
export const maxPoolGradConfig: UpstreamGradConfig = {
  kernelName: MaxPool,
  inputsToSave: ['x'],
  outputsToSave: [true],
  gradFunc: (dy: Tensor, saved: Tensor[], attrs: NamedAttrMap) => {
    const [x, y] = saved as [Tensor4D, Tensor4D];
    const {filterSize, strides, pad} = attrs as unknown as MaxPoolAttrs;

    return {
      x: () => maxPoolGrad(dy as Tensor4D, x, y, filterSize, strides, pad)
    };
  }
};

// ---- min_max_grad_util.ts
/**
 * Gradient helper function for the min and max operations.
 */
export function gradForMinAndMax<T extends Tensor>(
    dy: T, y: T, xOrig: Tensor, origAxes: number[]) {
  if (y.rank < xOrig.rank) {
    y = reshape(y, axis_util.expandShapeToKeepDim(y.shape, origAxes)) as T;
  }
  if (dy.rank < xOrig.rank) {
    dy = reshape(dy, axis_util.expandShapeToKeepDim(dy.shape, origAxes)) as T;
  }
  return {
    x: () => {
      const dx = mul(dy, cast(equal(xOrig, y), dy.dtype));
      return dx;
    }
  };
}

// ---- Max_grad.ts
export const maxGradConfig: UpstreamGradConfig = {
  kernelName: Max,
  inputsToSave: ['x'],
  outputsToSave: [true],
  gradFunc: (dy: Tensor, saved: Tensor[], attrs: NamedAttrMap) => {
    const maxAttrs: MaxAttrs = attrs as unknown as MaxAttrs;
    const {reductionIndices} = maxAttrs;
    const x = saved[0];
    const y = saved[1];
    const origAxes = util.parseAxisParam(reductionIndices, x.shape);
    const maxGrad = gradForMinAndMax(dy, y, x, origAxes);
    return {
      x: () => {
        return maxGrad['x']();
      }
    };
  }
};

// ---- Maximum_grad.ts
export const maximumGradConfig: UpstreamGradConfig = {
  kernelName: Maximum,
  inputsToSave: ['a', 'b'],
  gradFunc: (dy: Tensor, saved: Tensor[]) => {
    const [a, b] = saved;
    const derA = () => mul(dy, cast(greaterEqual(a, b), 'float32'));
    const derB = () => mul(dy, cast(less(a, b), 'float32'));
    return {a: derA, b: derB};
  }
};

// ---- Mean_grad.ts
export const meanGradConfig: UpstreamGradConfig = {
  kernelName: Mean,
  inputsToSave: ['x'],
  gradFunc: (dy: Tensor, saved: Tensor[], attrs: NamedAttrMap) => {
    const [x] = saved;
    const {axis} = attrs as unknown as MeanAttrs;
    const axes = util.parseAxisParam(axis, x.shape);
    const shapes = computeOutAndReduceShapes(x.shape, axes);
    const reduceShape = shapes[1];
    const reduceSize = util.sizeFromShape(reduceShape);

    const derX = () => {
      const expandedDyShape = x.shape.slice();
      axes.forEach(axis => {
        expandedDyShape[axis] = 1;
      });
      const expandedDy = reshape(dy, expandedDyShape);
      const res = div(mul(expandedDy, ones(x.shape, 'float32')), reduceSize);
      return res;
    };

    return {x: derX};
  }
};

// ---- Min_grad.ts
export const minGradConfig: UpstreamGradConfig = {
  kernelName: Min,
  inputsToSave: ['x'],
  outputsToSave: [true],
  gradFunc: (dy: Tensor, saved: Tensor[], attrs: NamedAttrMap) => {
    const minAttrs: MinAttrs = attrs as unknown as MinAttrs;
    const {axis} = minAttrs;
    const [x, y] = saved;
    const origAxes = util.parseAxisParam(axis, x.shape);
    const minGrad = gradForMinAndMax(dy, y, x, origAxes);
    return {
      x: () => {
        return minGrad['x']();
      }
    };
  }
};

// ---- Minimum_grad.ts
export const minimumGradConfig: UpstreamGradConfig = {
  kernelName: Minimum,
  inputsToSave: ['a', 'b'],
  gradFunc: (dy: Tensor, saved: Tensor[]) => {
    const [a, b] = saved;
    const derA = () => mul(dy, cast(lessEqual(a, b), 'float32'));
    const derB = () => mul(dy, cast(greater(a, b), 'float32'));
    return {a: derA, b: derB};
  }
};

// ---- MirrorPad_grad.ts
export const mirrorPadGradConfig: UpstreamGradConfig = {
  kernelName: MirrorPad,
  inputsToSave: ['x'],
  gradFunc: (dy: Tensor, saved: Tensor[], attrs: NamedAttrMap) => {
    // Pad introduces values around the original tensor, so the gradient
    // slices the original shape out of the gradient.
    const x = saved[0];
    const {paddings} = attrs as unknown as MirrorPadAttrs;
    const begin = paddings.map(p => p[0]);
    return {x: () => slice(dy, begin, x.shape)};
  }
};

// ---- Mod_grad.ts
export const modGradConfig: UpstreamGradConfig = {
  kernelName: Mod,
  inputsToSave: ['a', 'b'],
  gradFunc: (dy: Tensor, saved: Tensor[]) => {
    const [a, b] = saved;
    const outShape = assertAndGetBroadcastShape(a.shape, b.shape);

    const derA = () => {
      const reduceAxes = getReductionAxes(a.shape, outShape);
      if (reduceAxes.length > 0) {
        return reshape(sum(dy, reduceAxes), a.shape);
      }
      return dy;
    };
    const derB = () => {
      const res = mul(dy, neg(floor(div(a, b))));
      const reduceAxes = getReductionAxes(b.shape, outShape);
      if (reduceAxes.length > 0) {
        return reshape(sum(res, reduceAxes), b.shape);
      }
      return res;
    };
    return {a: derA, b: derB};
  }
};

// ---- Multiply_grad.ts
export const multiplyGradConfig: UpstreamGradConfig = {
  kernelName: Multiply,
  inputsToSave: ['a', 'b'],
  gradFunc: (dy: Tensor, saved: Tensor[]) => {
    const [a, b] = saved;
    const outShape = assertAndGetBroadcastShape(a.shape, b.shape);

    const derA = () => {
      const res = mul(dy, cast(b, 'float32'));
      const reduceAxes = getReductionAxes(a.shape, outShape);
      if (reduceAxes.length > 0) {
        return reshape(sum(res, reduceAxes), a.shape);
      }
      return res;
    };
    const derB = () => {
      const res = mul(dy, cast(a, 'float32'));
      const reduceAxes = getReductionAxes(b.shape, outShape);
      if (reduceAxes.length > 0) {
        return reshape(sum(res, reduceAxes), b.shape);
      }
      return res;
    };
    return {a: derA, b: derB};
  }
};

// ---- Neg_grad.ts
export const negGradConfig: UpstreamGradConfig = {
  kernelName: Neg,
  gradFunc: (dy: Tensor) => {
    return {x: () => neg(dy)};
  }
};

// ---- OneHot_grad.ts
export const oneHotGradConfig: UpstreamGradConfig = {
  kernelName: OneHot,
  inputsToSave: ['indices'],
  gradFunc: (dy: Tensor, saved: Tensor[]) => {
    const indices = saved[0];
    return {indices: () => zeros(indices.shape, 'float32')};
  }
};

// ---- OnesLike_grad.ts
export const onesLikeGradConfig: UpstreamGradConfig = {
  kernelName: OnesLike,
  gradFunc: (dy: Tensor) => {
    return {x: () => zerosLike(dy)};
  }
};

// ---- Pack_grad.ts
export const packGradConfig: UpstreamGradConfig = {
  kernelName: Pack,
  saveAllInputs: true,
  gradFunc: (dy: Tensor, saved: Tensor[], attrs: NamedAttrMap) => {
    const {axis} = attrs as unknown as PackAttrs;
    const derTensors = unstack(dy, axis);
    return derTensors.map(t => () => t) as {};
  }
};

// ---- PadV2_grad.ts
export const padV2GradConfig: UpstreamGradConfig = {
  kernelName: PadV2,
  inputsToSave: ['x'],
  gradFunc: (dy: Tensor, saved: Tensor[], attrs: NamedAttrMap) => {
    // Pad introduces values around the original tensor, so the gradient
    // slices the original shape out of the gradient.
    const x = saved[0];
    const {paddings} = attrs as unknown as PadV2Attrs;
    const begin = paddings.map(p => p[0]);
    return {x: () => slice(dy, begin, x.shape)};
  }
};

// ---- Pow_grad.ts
export const powGradConfig: UpstreamGradConfig = {
  kernelName: Pow,
  inputsToSave: ['a', 'b'],
  outputsToSave: [true],
  gradFunc: (dy: Tensor, saved: Tensor[]) => {
    const [a, b, y] = saved;
    const base = a;
    const exp = b;
    const outShape =
        broadcast_util.assertAndGetBroadcastShape(base.shape, exp.shape);

    const derBase = () => {
      const expFloat = cast(exp, 'float32');
      let res = mul(dy, mul(expFloat, pow(base, sub(expFloat, scalar(1)))));
      const reduceAxes = broadcast_util.getReductionAxes(base.shape, outShape);
      if (reduceAxes.length > 0) {
        res = sum(res, reduceAxes);
      }
      return reshape(res, base.shape);
    };
    const derExp = () => {
      const condition = greater(base, 0);
      const logBase = where(condition, log(base), zerosLike(base));
      let res = mul(dy, mul(y, logBase));
      const reduceAxes = broadcast_util.getReductionAxes(exp.shape, outShape);
      if (reduceAxes.length > 0) {
        res = sum(res, reduceAxes);
      }
      return reshape(res, exp.shape);
    };
    return {a: derBase, b: derExp};
  }
};

// ---- Prelu_grad.ts
export const preluGradConfig: UpstreamGradConfig = {
  kernelName: Prelu,
  inputsToSave: ['x', 'alpha'],
  gradFunc: (dy: Tensor, saved: Tensor[]) => {
    const [x, alpha] = saved;
    const mask = greater(x, 0);

    return {
      x: () => where(mask, dy, mul(dy, alpha)),
      alpha: () => {
        let res = where(mask, zerosLike(dy), mul(dy, x));
        const reduceAxes = getReductionAxes(alpha.shape, dy.shape);
        if (reduceAxes.length > 0) {
          res = sum(res, reduceAxes);
        }
        return reshape(res, alpha.shape);
      }
    };
  }
};

// ---- Prod_grad.ts
// Gradient for product operation on a single axis.
function prodGradFn_(x: Tensor, dy: Tensor, axis: number): Tensor {
  // The gradient tensor (dy) has a set of axes removed, so we create re-shaped
  // versions (of size 1) for the removed axis; this supports broadcasting over
  // those dimensions.
  const expandedYShape = x.shape.slice();
  expandedYShape[axis] = 1;

  // The actual gradient computation.
  const expandedDy = reshape(dy, expandedYShape);
  const xCumProd = cumprod(x, axis, true, false);
  const xCumRevProd = cumprod(x, axis, true, true);
  const dx = mul(xCumProd, xCumRevProd);
  return mul(expandedDy, dx);
}

// Support gradients when the product is done on many axes at once.
// This done py pushing all the axes on which the product is applied into a
// single axis.
function prodsGradFn_(x: Tensor, dy: Tensor, axis: number[]): Tensor {
  // Move all axes for doing prod over to the end of the tensor.
  const xRank = x.shape.length;
  const finalProdAxis = xRank - axis.length;
  const xPermutation = backend_util.getAxesPermutation(axis, xRank);
  let permutedX = x;
  if (xPermutation != null) {
    permutedX = transpose(x, xPermutation);
  }

  // Reshape all the prod dimensions into a single one, and do compute prod
  // gradients on that.
  const newShape = permutedX.shape.slice();
  const removedShape = newShape.splice(xRank - axis.length, axis.length);
  const endPartShape = removedShape.reduce((p, c) => p * c, 1);
  newShape.push(endPartShape);
  const reshapedPermutedX = reshape(permutedX, newShape);
  let prodGrad = prodGradFn_(reshapedPermutedX, dy, finalProdAxis);

  // Undo the re-shaping now we have the dx vector, and permute back to
  // original axes order.
  prodGrad = reshape(prodGrad, permutedX.shape);
  if (xPermutation != null) {
    const undoPermutation = backend_util.getUndoAxesPermutation(xPermutation);
    prodGrad = transpose(prodGrad, undoPermutation);
  }
  return prodGrad;
}

// Running example:
// [
//   [
//     [3.0, 4.0],
//     [5.0, 6.0],
//     [7.0, 8.0]
//   ],
//   [
//     [3.0, 5.0],
//     [0.0, 6.0],
//     [5.0, 6.0]
//   ]
// ]
//
export const prodGradConfig: UpstreamGradConfig = {
  kernelName: Prod,
  inputsToSave: ['x'],
  gradFunc: (dy: Tensor|Tensor[], saved: Tensor[], attrs: NamedAttrMap) => {
    const [x] = saved;
    const {axis} = (attrs as {}) as ProdAttrs;
    let axisArr = [] as number[];
    if (axis === undefined || axis === null) {
      axisArr = x.shape.map((_, i) => i);
    } else if (typeof axis === 'number') {
      axisArr = [axis];
    } else {
      axisArr = axis;
    }
    return {x: () => prodsGradFn_(x, dy as Tensor, axisArr)};
  }
};

// ---- RealDiv_grad.ts
export const divGradConfig: UpstreamGradConfig = {
  kernelName: RealDiv,
  inputsToSave: ['a', 'b'],
  gradFunc: (dy: Tensor, saved: Tensor[]) => {
    const [a, b] = saved;
    const outShape =
        broadcast_util.assertAndGetBroadcastShape(a.shape, b.shape);
    const derA = () => {
      const res = div(dy, cast(b, 'float32'));
      const reduceAxes = broadcast_util.getReductionAxes(a.shape, outShape);
      if (reduceAxes.length > 0) {
        return reshape(sum(res, reduceAxes), a.shape);
      }
      return res;
    };
    const derB = () => {
      let res = mul(dy, cast(a, 'float32'));
      const reduceAxes = broadcast_util.getReductionAxes(b.shape, outShape);
      if (reduceAxes.length > 0) {
        res = reshape(sum(res, reduceAxes), b.shape);
      }
      const tmp = square(b);
      return neg(div(res, cast(tmp, 'float32')));
    };
    return {a: derA, b: derB};
  }
};

// ---- Reciprocal_grad.ts
export const reciprocalGradConfig: UpstreamGradConfig = {
  kernelName: Reciprocal,
  inputsToSave: ['x'],
  gradFunc: (dy: Tensor, saved: Tensor[]) => {
    const [x] = saved;
    return {x: () => div(dy, neg(square(x)))};
  }
};

// ---- Relu6_grad.ts
export const relu6GradConfig: UpstreamGradConfig = {
  kernelName: Relu6,
  inputsToSave: ['x'],
  gradFunc: (dy: Tensor, saved: Tensor[]) => {
    const [x] = saved;
    const mask = mul(lessEqual(x, 6), step(x));

    return {x: () => mul(dy, cast(mask, 'float32'))};
  }
};

// ---- Relu_grad.ts
export const reluGradConfig: UpstreamGradConfig = {
  kernelName: Relu,
  inputsToSave: ['x'],
  gradFunc: (dy: Tensor, saved: Tensor[]) => {
    const [x] = saved;
    return {x: () => mul(dy, cast(step(x), 'float32'))};
  }
};

// ---- Reshape_grad.ts
export const reshapeGradConfig: UpstreamGradConfig = {
  kernelName: Reshape,
  inputsToSave: ['x'],
  gradFunc: (dy: Tensor, saved: Tensor[]) => {
    const [x] = saved;
    return {x: () => reshape(dy, x.shape)};
  }
};

// ---- ResizeBilinear_grad.ts
export const resizeBilinearGradConfig: UpstreamGradConfig = {
  kernelName: ResizeBilinear,
  inputsToSave: ['images'],
  gradFunc: (dy: Tensor4D, saved: Tensor[], attrs: NamedAttrMap) => {
    const [images] = saved;

    const inputs: ResizeBilinearGradInputs = {dy, images};
    const imagesDer = () =>
        // tslint:disable-next-line: no-unnecessary-type-assertion
        ENGINE.runKernel(
            ResizeBilinearGrad, inputs as unknown as NamedTensorMap, attrs) as
        Tensor4D;

    return {images: imagesDer};
  }
};

// ---- ResizeNearestNeighbor_grad.ts
export const resizeNearestNeighborGradConfig: UpstreamGradConfig = {
  kernelName: ResizeNearestNeighbor,
  inputsToSave: ['images'],
  gradFunc: (dy: Tensor4D, saved: Tensor[], attrs: NamedAttrMap) => {
    const [images] = saved;

    const inputs: ResizeNearestNeighborGradInputs = {dy, images};
    const imagesDer = () =>
        // tslint:disable-next-line: no-unnecessary-type-assertion
        ENGINE.runKernel(
            ResizeNearestNeighborGrad, inputs as unknown as NamedTensorMap,
            attrs) as Tensor4D;

    return {images: imagesDer};
  }
};

// ---- Reverse_grad.ts
export const reverseGradConfig: UpstreamGradConfig = {
  kernelName: Reverse,
  gradFunc: (dy: Tensor, saved: Tensor[], attrs: NamedAttrMap) => {
    const {dims} = attrs as unknown as ReverseAttrs;
    const axes = parseAxisParam(dims, dy.shape);
    return {x: () => reverse(dy, axes)};
  }
};

// ---- Round_grad.ts
export const roundGradConfig: UpstreamGradConfig = {
  kernelName: Round,
  gradFunc: (dy: Tensor) => {
    // TODO(nsthorat): Let gradients be null for cases where we want to stop
    // backpropgation.
    return {x: () => zerosLike(dy)};
  }
};

// ---- Rsqrt_grad.ts
export const rsqrtGradConfig: UpstreamGradConfig = {
  kernelName: Rsqrt,
  inputsToSave: ['x'],
  gradFunc: (dy: Tensor, saved: Tensor[]) => {
    const [x] = saved;
    return {x: () => neg(div(dy, mul(pow(x, 1.5), 2)))};
  }
};

// ---- Select_grad.ts
export const selectGradConfig: UpstreamGradConfig = {
  kernelName: Select,
  inputsToSave: ['condition'],
  gradFunc: (dy: Tensor, saved: Tensor[]) => {
    const [condition] = saved;
    return {
      // TODO(julianoks): Return null for condition gradient
      // when backprop supports it.
      condition: () => cast(zerosLike(condition), 'float32'),
      t: () => mul(dy, cast(condition, dy.dtype)),
      e: () => mul(dy, cast(logicalNot(condition), dy.dtype))
    };
  }
};

// ---- Selu_grad.ts
export const seluGradConfig: UpstreamGradConfig = {
  kernelName: Selu,
  inputsToSave: ['x'],
  gradFunc: (dy: Tensor, saved: Tensor[]) => {
    const [x] = saved;
    return {
      x: () => {
        const mask = greater(x, scalar(0));

        const scaleAlpha = scalar(SELU_SCALEALPHA);
        const scale = scalar(SELU_SCALE);

        const greaterThanZeroDer = mul(dy, scale);
        const lessEqualZeroDer =
            mul(mul(dy, scaleAlpha), exp(cast(x, 'float32')));

        return where(mask, greaterThanZeroDer, lessEqualZeroDer);
      }
    };
  }
};

// ---- Sigmoid_grad.ts
export const sigmoidGradConfig: UpstreamGradConfig = {
  kernelName: Sigmoid,
  outputsToSave: [true],
  gradFunc: (dy: Tensor, saved: Tensor[]) => {
    const [y] = saved;

    return {x: () => mul(dy, mul(y, sub(scalar(1), y)))};
  }
};

// ---- Sign_grad.ts
export const signGradConfig: UpstreamGradConfig = {
  kernelName: Sign,
  gradFunc: (dy: Tensor) => {
    return {x: () => zerosLike(dy)};
  }
};

// ---- Sin_grad.ts
export const sinGradConfig: UpstreamGradConfig = {
  kernelName: Sin,
  inputsToSave: ['x'],
  gradFunc: (dy: Tensor, saved: Tensor[]) => {
    const [x] = saved;
    return {x: () => mul(cos(cast(x, 'float32')), dy)};
  }
};

// ---- Sinh_grad.ts
export const sinhGradConfig: UpstreamGradConfig = {
  kernelName: Sinh,
  inputsToSave: ['x'],
  gradFunc: (dy: Tensor, saved: Tensor[]) => {
    const [x] = saved;

    return {x: () => mul(cosh(cast(x, 'float32')), dy)};
  }
};

// ---- Slice_grad.ts
export const sliceGradConfig: UpstreamGradConfig = {
  kernelName: Slice,
  inputsToSave: ['x'],
  gradFunc: (dy: Tensor, saved: Tensor[], attrs: NamedAttrMap) => {
    const [x] = saved;
    const {begin, size} = attrs as unknown as SliceAttrs;

    const inputShape = x.shape;
    const [begin_, size_] = parseSliceParams(x, begin, size);

    // Create an Nx2 padding where the first column represents how many
    // zeros are prepended (at start) for each dimension, and the second
    // column indicates how many zeros are appended (at end).

    // The number of zeros to append is the shape of the input
    // elementwise-subtracted by both the begin vector and sizes vector.
    const paddings: Array<[number, number]> = [];
    for (let i = 0; i < dy.rank; i++) {
      paddings.push([begin_[i], inputShape[i] - begin_[i] - size_[i]]);
    }
    return {x: () => pad(dy, paddings)};
  }
};

// ---- Softmax_grad.ts
export const softmaxGradConfig: UpstreamGradConfig = {
  kernelName: Softmax,
  outputsToSave: [true],
  gradFunc: (dy: Tensor, saved: Tensor[], attrs: NamedAttrMap) => {
    const [y] = saved;
    const {dim} = attrs as unknown as SoftmaxAttrs;
    const keepDims = true;

    const dyTimesY = mul(dy, y);
    return {
      logits: () => sub(dyTimesY, mul(sum(dyTimesY, [dim], keepDims), y))
    };
  }
};

// ---- Softplus_grad.ts
export const softplusGradConfig: UpstreamGradConfig = {
  kernelName: Softplus,
  inputsToSave: ['x'],
  gradFunc: (dy: Tensor, saved: Tensor[]) => {
    const [x] = saved;

    return {x: () => mul(dy, sigmoid(x))};
  }
};

// ---- SpaceToBatchND_grad.ts
export const spaceToBatchNDGradConfig: UpstreamGradConfig = {
  kernelName: SpaceToBatchND,
  gradFunc: (dy: Tensor, saved: Tensor[], attrs: NamedAttrMap) => {
    const {blockShape, paddings} = attrs as unknown as SpaceToBatchNDAttrs;
    return {x: () => batchToSpaceND(dy, blockShape, paddings)};
  }
};

// ---- SplitV_grad.ts
export const splitVGradConfig: UpstreamGradConfig = {
  kernelName: SplitV,
  gradFunc: (dy: Tensor[], saved: Tensor[], attrs: NamedAttrMap) => {
    const {axis} = attrs as unknown as SplitVAttrs;

    return {x: () => concat(dy, axis)};
  }
};

// ---- Sqrt_grad.ts
export const sqrtGradConfig: UpstreamGradConfig = {
  kernelName: Sqrt,
  inputsToSave: ['x'],
  gradFunc: (dy: Tensor, saved: Tensor[]) => {
    const [x] = saved;

    return {x: () => div(dy, mul(sqrt(cast(x, 'float32')), 2))};
  }
};

// ---- Square_grad.ts
export const squareGradConfig: UpstreamGradConfig = {
  kernelName: Square,
  inputsToSave: ['x'],
  gradFunc: (dy: Tensor, saved: Tensor[]) => {
    const [x] = saved;
    return {x: () => mul(dy, mul(cast(x, 'float32'), 2))};
  }
};

// ---- SquaredDifference_grad.ts
export const squaredDifferenceGradConfig: UpstreamGradConfig = {
  kernelName: SquaredDifference,
  inputsToSave: ['a', 'b'],
  gradFunc: (dy: Tensor, saved: Tensor[]) => {
    const [a, b] = saved;
    const two = scalar(2);
    const derA = () => mul(dy, mul(two, sub(a, b)));
    const derB = () => mul(dy, mul(two, sub(b, a)));
    return {a: derA, b: derB};
  }
};

// ---- Step_grad.ts
export const stepGradConfig: UpstreamGradConfig = {
  kernelName: Step,
  gradFunc: (dy: Tensor) => {
    // TODO(manrajgrover): Return null for gradients when backprop supports
    // it.
    return {x: () => zerosLike(dy)};
  }
};

// ---- Sub_grad.ts
export const subGradConfig: UpstreamGradConfig = {
  kernelName: Sub,
  inputsToSave: ['a', 'b'],
  gradFunc: (dy: Tensor, saved: Tensor[]) => {
    const [a, b] = saved;
    const outShape =
        broadcast_util.assertAndGetBroadcastShape(a.shape, b.shape);

    const derA = () => {
      let res = dy;
      const reduceAxes = broadcast_util.getReductionAxes(a.shape, outShape);
      if (reduceAxes.length > 0) {
        res = sum(res, reduceAxes);
      }
      return reshape(res, a.shape);
    };
    const derB = () => {
      let res = dy;
      const reduceAxes = broadcast_util.getReductionAxes(b.shape, outShape);
      if (reduceAxes.length > 0) {
        res = sum(res, reduceAxes);
      }
      return reshape(neg(res), b.shape);
    };

    return {a: derA, b: derB};
  }
};

// ---- Sum_grad.ts
export const sumGradConfig: UpstreamGradConfig = {
  kernelName: Sum,
  inputsToSave: ['x'],
  gradFunc: (dy: Tensor, saved: Tensor[], attrs: NamedAttrMap) => {
    const [x] = saved;
    const expandedDyShape = x.shape.slice();
    const {axis} = attrs as unknown as SumAttrs;

    const axes = parseAxisParam(axis, x.shape);
    axes.forEach(axis => {
      expandedDyShape[axis] = 1;
    });
    const expandedDy = reshape(dy, expandedDyShape);
    const derX = mul(expandedDy, ones(x.shape, 'float32'));

    return {x: () => derX};
  }
};

// ---- Tan_grad.ts
export const tanGradConfig: UpstreamGradConfig = {
  kernelName: Tan,
  inputsToSave: ['x'],
  gradFunc: (dy: Tensor, saved: Tensor[]) => {
    const [x] = saved;

    return {x: () => div(dy, square(cos(x)))};
  }
};

// ---- Tanh_grad.ts
export const tanhGradConfig: UpstreamGradConfig = {
  kernelName: Tanh,
  outputsToSave: [true],
  gradFunc: (dy: Tensor, saved: Tensor[]) => {
    const [y] = saved;

    return {x: () => mul(sub(scalar(1), square(y)), dy)};
  }
};

// ---- Tile_grad.ts
export const tileGradConfig: UpstreamGradConfig = {
  kernelName: Tile,
  inputsToSave: ['x'],
  gradFunc: (dy: Tensor, saved: Tensor[], attrs: NamedAttrMap) => {
    const [x] = saved;
    const {reps} = attrs as unknown as TileAttrs;

    const derX = () => {
      let xGrad = zerosLike(x);
      // TODO(cais): Maybe reduce memory footprint by avoiding repeated
      // slicing.
      if (x.rank === 1) {
        for (let i = 0; i < reps[0]; ++i) {
          xGrad = add(xGrad, slice(dy, [i * x.shape[0]], [x.shape[0]]));
        }
      } else if (x.rank === 2) {
        for (let i = 0; i < reps[0]; ++i) {
          for (let j = 0; j < reps[1]; ++j) {
            xGrad = add(xGrad, slice(dy, [i * x.shape[0], j * x.shape[1]], [
                          x.shape[0], x.shape[1]
                        ]));
          }
        }
      } else if (x.rank === 3) {
        for (let i = 0; i < reps[0]; ++i) {
          for (let j = 0; j < reps[1]; ++j) {
            for (let k = 0; k < reps[2]; ++k) {
              xGrad =
                  add(xGrad,
                      slice(
                          dy, [i * x.shape[0], j * x.shape[1], k * x.shape[2]],
                          [x.shape[0], x.shape[1], x.shape[2]]));
            }
          }
        }
      } else if (x.rank === 4) {
        for (let i = 0; i < reps[0]; ++i) {
          for (let j = 0; j < reps[1]; ++j) {
            for (let k = 0; k < reps[2]; ++k) {
              for (let l = 0; l < reps[3]; ++l) {
                xGrad =
                    add(xGrad,
                        slice(
                            dy,
                            [
                              i * x.shape[0], j * x.shape[1], k * x.shape[2],
                              l * x.shape[3]
                            ],
                            [x.shape[0], x.shape[1], x.shape[2], x.shape[3]]));
              }
            }
          }
        }
      } else {
        throw new Error(
            `Gradient for tile operation is not implemented for rank-` +
            `${x.rank} tensors yet.`);
      }
      return xGrad;
    };
    return {x: derX};
  },
};

// ---- Transpose_grad.ts
export const transposeGradConfig: UpstreamGradConfig = {
  kernelName: Transpose,
  gradFunc: (dy: Tensor, saved: Tensor[], attrs: NamedAttrMap) => {
    const transposeAttrs: TransposeAttrs = attrs as unknown as TransposeAttrs;
    const {perm} = transposeAttrs;
    const undoPerm = axis_util.getUndoAxesPermutation(perm);
    return {x: () => transpose(dy, undoPerm)};
  }
};

// ---- Unpack_grad.ts
export const unpackGradConfig: UpstreamGradConfig = {
  kernelName: Unpack,
  gradFunc: (dy: Tensor[], saved: Tensor[], attrs: NamedAttrMap) => {
    const unpackAttrs: UnpackAttrs = attrs as unknown as UnpackAttrs;
    const {axis} = unpackAttrs;
    return {value: () => stack(dy, axis)};
  }
};

// ---- UnsortedSegmentSum_grad.ts
export const unsortedSegmentSumGradConfig: UpstreamGradConfig = {
  kernelName: UnsortedSegmentSum,
  inputsToSave: ['segmentIds'],
  gradFunc: (dy: Tensor, saved: Tensor[]) => {
    const [segmentIds] = saved;

    const derX = () => {
      return gatherDropNegatives(dy, segmentIds as Tensor1D);
    };
    return {x: derX};
  }
};

function gatherDropNegatives<T extends Tensor>(x: T, indices: Tensor1D) {
  // Helper function for unsorted segment ops. Gathers params for
  // positive segment ids and gathers 0 for inputs with negative segment id.
  // Mirrors _GatherDropNegatives from tensorflow/python/ops/math_grad.py
  const zeroClippedIndices = maximum(indices, zerosLike(indices));
  const gathered = gather(x, zeroClippedIndices as Tensor1D);
  let isPositive = greaterEqual(indices, scalar(0, 'int32'));
  const numIters = gathered.rank - isPositive.rank;
  for (let i = 0; i < numIters; ++i) {
    isPositive = expandDims(isPositive, i + 1);
  }
  isPositive = logicalAnd(isPositive, ones(gathered.shape, 'bool'));
  const zeroSlice = zerosLike(gathered);
  return where(isPositive, gathered, zeroSlice);
}

// ---- ZerosLike_grad.ts
export const zerosLikeGradConfig: UpstreamGradConfig = {
  kernelName: ZerosLike,
  gradFunc: (dy: Tensor) => {
    return {x: () => zerosLike(dy)};
  }
};

/** Every gradient of tfjs-core, in the order of its register_all_gradients.ts. */
export const CORE_GRAD_CONFIGS: GradConfig[] = [
  absGradConfig,
  acosGradConfig,
  acoshGradConfig,
  addGradConfig,
  addNGradConfig,
  argMaxGradConfig,
  argMinGradConfig,
  asinGradConfig,
  asinhGradConfig,
  atan2GradConfig,
  atanGradConfig,
  atanhGradConfig,
  avgPool3DGradConfig,
  avgPoolGradConfig,
  batchMatMulGradConfig,
  batchToSpaceNDGradConfig,
  broadcastToGradConfig,
  castGradConfig,
  ceilGradConfig,
  clipByValueGradConfig,
  complexAbsGradConfig,
  concatGradConfig,
  conv2DBackpropInputGradConfig,
  conv2DGradConfig,
  conv3DGradConfig,
  cosGradConfig,
  coshGradConfig,
  cumsumGradConfig,
  depthwiseConv2dNativeGradConfig,
  dilation2dGradConfig,
  divGradConfig,
  eluGradConfig,
  erfGradConfig,
  expGradConfig,
  expandDimsGradConfig,
  expm1GradConfig,
  floorDivGradConfig,
  floorGradConfig,
  fusedBatchNormGradConfig,
  gatherGradConfig,
  greaterEqualGradConfig,
  identityGradConfig,
  isFiniteGradConfig,
  isInfGradConfig,
  isNanGradConfig,
  leakyReluGradConfig,
  log1pGradConfig,
  logGradConfig,
  logSoftmaxGradConfig,
  lrnGradConfig,
  maxGradConfig,
  maxGradConfig,
  maximumGradConfig,
  maxPool3DGradConfig,
  maxPoolGradConfig,
  meanGradConfig,
  minGradConfig,
  minimumGradConfig,
  mirrorPadGradConfig,
  modGradConfig,
  multiplyGradConfig,
  negGradConfig,
  oneHotGradConfig,
  onesLikeGradConfig,
  packGradConfig,
  padV2GradConfig,
  padV2GradConfig,
  powGradConfig,
  preluGradConfig,
  prodGradConfig,
  reciprocalGradConfig,
  relu6GradConfig,
  reluGradConfig,
  reshapeGradConfig,
  resizeBilinearGradConfig,
  resizeNearestNeighborGradConfig,
  reverseGradConfig,
  roundGradConfig,
  rsqrtGradConfig,
  selectGradConfig,
  seluGradConfig,
  sigmoidGradConfig,
  signGradConfig,
  sinGradConfig,
  sinhGradConfig,
  sliceGradConfig,
  softmaxGradConfig,
  softplusGradConfig,
  spaceToBatchNDGradConfig,
  spaceToBatchNDGradConfig,
  splitVGradConfig,
  splitVGradConfig,
  sqrtGradConfig,
  squaredDifferenceGradConfig,
  squareGradConfig,
  stepGradConfig,
  subGradConfig,
  sumGradConfig,
  tanGradConfig,
  tanhGradConfig,
  tileGradConfig,
  transposeGradConfig,
  unpackGradConfig,
  unsortedSegmentSumGradConfig,
  zerosLikeGradConfig,
];
