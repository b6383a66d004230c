/**
 * Kernels that tfjs-node 4.22 lacks but that selfsup's recipes use, registered for its
 * "tensorflow" backend (tfjs-node and tfjs-node-gpu share it) as the TensorFlow op that tfjs
 * modelled the kernel on, so they run natively (and on the GPU where TensorFlow does).
 *
 * - Transform (`tf.image.transform`, the digits' affine augmentation) ->
 *   ImageProjectiveTransformV3, whose semantics tfjs copied: 8-number inverse maps, output pixel
 *   centres, constant/reflect/wrap/nearest fill.
 */
import {
  getKernel,
  type KernelConfig,
  type NamedAttrMap,
  registerKernel,
  scalar,
  type Tensor,
  type TensorInfo,
  type TransformAttrs,
  tensor1d,
} from "@tensorflow/tfjs-core";

/** The part of tfjs-node's NodeJSKernelBackend these kernels use. */
interface TfjsNodeBackend {
  binding: { TF_ATTR_TYPE: number; TF_ATTR_STRING: number; TF_FLOAT: number; TF_INT32: number };
  executeSingleOutput(
    name: string,
    opAttrs: Array<{ name: string; type: number; value: unknown }>,
    inputs: TensorInfo[],
  ): TensorInfo;
}

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
          {
            name: "dtype",
            type: nb.binding.TF_ATTR_TYPE,
            value: image.dtype === "float32" ? nb.binding.TF_FLOAT : nb.binding.TF_INT32,
          },
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

/** Registers the kernels above where "tensorflow" lacks them; returns the names registered. */
export function registerNativeKernels(): string[] {
  const names: string[] = [];
  for (const config of [transformConfig]) {
    if (getKernel(config.kernelName, "tensorflow") != null) continue;
    registerKernel(config);
    names.push(config.kernelName);
  }
  return names;
}
