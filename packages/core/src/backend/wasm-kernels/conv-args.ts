/**
 * The argument parsing that selfsup's wasm convolution and pooling kernels share: dtype checks and
 * tfjs' own geometry (`backend_util.computeConv2DInfo` / `computePool2DInfo` / `computePool3DInfo`),
 * flattened into the short names the loops use. One place, so every kernel pads, rounds and
 * dilates exactly as tfjs does.
 */
import { backend_util, type TensorInfo } from "@tensorflow/tfjs-core";

type Pad = "valid" | "same" | number | backend_util.ExplicitPadding;
type Rounding = "floor" | "round" | "ceil" | undefined | null;
type Pair = [number, number] | number;
type Triple = [number, number, number] | number;

/** Throws unless every tensor is float32 (the kernels read the wasm heap as Float32Array). */
export function requireFloat32(kernel: string, ...tensors: TensorInfo[]): void {
  if (tensors.some((t) => t.dtype !== "float32")) {
    throw new Error(`${kernel} on wasm supports float32 only, got ${tensors.map((t) => t.dtype).join("/")}`);
  }
}

/** An NCHW shape as NHWC (the layout the kernels compute in); NHWC shapes unchanged. */
export function nhwcShape(
  shape: readonly number[],
  dataFormat: "NHWC" | "NCHW" | undefined,
): [number, number, number, number] {
  const [a, b, c, d] = shape as [number, number, number, number];
  return dataFormat === "NCHW" ? [a, c, d, b] : [a, b, c, d];
}

/** 2-D convolution geometry, NHWC. */
export interface Conv2DGeometry {
  B: number;
  H: number;
  W: number;
  Ci: number;
  OH: number;
  OW: number;
  /** Output channels (depthwise: Ci x multiplier). */
  Co: number;
  KH: number;
  KW: number;
  sh: number;
  sw: number;
  dh: number;
  dw: number;
  /** Padding before the first row / column. */
  pt: number;
  pl: number;
}

export function conv2DGeometry(
  xShape: readonly number[],
  filterShape: readonly number[],
  attrs: { strides: Pair; pad: Pad; dimRoundingMode?: Rounding; dilations?: Pair },
  depthwise = false,
): Conv2DGeometry {
  const info = backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides,
    attrs.dilations ?? 1,
    attrs.pad,
    attrs.dimRoundingMode ?? undefined,
    depthwise,
    "channelsLast",
  );
  return {
    B: info.batchSize,
    H: info.inHeight,
    W: info.inWidth,
    Ci: info.inChannels,
    OH: info.outHeight,
    OW: info.outWidth,
    Co: info.outChannels,
    KH: info.filterHeight,
    KW: info.filterWidth,
    sh: info.strideHeight,
    sw: info.strideWidth,
    dh: info.dilationHeight,
    dw: info.dilationWidth,
    pt: info.padInfo.top,
    pl: info.padInfo.left,
  };
}

/** 2-D pooling geometry, NHWC; fh/fw are the effective (dilated) window. */
export interface Pool2DGeometry {
  B: number;
  H: number;
  W: number;
  C: number;
  OH: number;
  OW: number;
  sh: number;
  sw: number;
  dh: number;
  dw: number;
  fh: number;
  fw: number;
  pt: number;
  pl: number;
}

export function pool2DGeometry(
  xShape: readonly number[],
  attrs: { filterSize: Pair; strides: Pair; pad: Pad; dimRoundingMode?: Rounding },
): Pool2DGeometry {
  const info = backend_util.computePool2DInfo(
    xShape as [number, number, number, number],
    attrs.filterSize,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode ?? undefined,
  );
  return {
    B: info.batchSize,
    H: info.inHeight,
    W: info.inWidth,
    C: info.inChannels,
    OH: info.outHeight,
    OW: info.outWidth,
    sh: info.strideHeight,
    sw: info.strideWidth,
    dh: info.dilationHeight,
    dw: info.dilationWidth,
    fh: info.effectiveFilterHeight,
    fw: info.effectiveFilterWidth,
    pt: info.padInfo.top,
    pl: info.padInfo.left,
  };
}

/** 3-D pooling geometry, NDHWC; fd/fh/fw are the effective (dilated) window. */
export interface Pool3DGeometry extends Pool2DGeometry {
  D: number;
  OD: number;
  sd: number;
  dd: number;
  fd: number;
  /** Padding before the first plane. */
  pf: number;
}

export function pool3DGeometry(
  kernel: string,
  xShape: readonly number[],
  attrs: {
    filterSize: Triple;
    strides: Triple;
    pad: "valid" | "same" | number;
    dimRoundingMode?: Rounding;
    dataFormat?: "NDHWC" | "NCDHW";
  },
): Pool3DGeometry {
  const info = backend_util.computePool3DInfo(
    xShape as [number, number, number, number, number],
    attrs.filterSize,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode ?? undefined,
    attrs.dataFormat ?? "NDHWC",
  );
  if (info.dataFormat !== "channelsLast") throw new Error(`${kernel} on wasm supports NDHWC only`);
  return {
    B: info.batchSize,
    D: info.inDepth,
    H: info.inHeight,
    W: info.inWidth,
    C: info.inChannels,
    OD: info.outDepth,
    OH: info.outHeight,
    OW: info.outWidth,
    sd: info.strideDepth,
    sh: info.strideHeight,
    sw: info.strideWidth,
    dd: info.dilationDepth,
    dh: info.dilationHeight,
    dw: info.dilationWidth,
    fd: info.effectiveFilterDepth,
    fh: info.effectiveFilterHeight,
    fw: info.effectiveFilterWidth,
    pf: info.padInfo.front,
    pt: info.padInfo.top,
    pl: info.padInfo.left,
  };
}
