import type { InputSpec } from "../../plugin/types.js";

export type ImageInput = Extract<InputSpec, { kind: "image" }>;
export type TextInput = Extract<InputSpec, { kind: "text" }>;

/** Narrows the input to images, with an error naming the backbone otherwise. */
export function imageInput(input: InputSpec, backbone: string): ImageInput {
  if (input.kind !== "image") {
    throw new Error(
      `backbone "${backbone}" encodes images, but the dataset gives ${input.kind}; use "lstm" or "text-transformer"`,
    );
  }
  return input;
}

/** Narrows the input to token sequences, with an error naming the backbone otherwise. */
export function textInput(input: InputSpec, backbone: string): TextInput {
  if (input.kind !== "text") {
    throw new Error(
      `backbone "${backbone}" encodes token sequences, but the dataset gives ${input.kind}; use an image backbone`,
    );
  }
  return input;
}

/** Checks an image batch against the spec's channel count. */
export function checkImageBatch(
  x: { rank: number; shape: number[] },
  input: ImageInput,
  backbone: string,
): void {
  if (x.rank !== 4 || x.shape[3] !== input.channels) {
    throw new Error(`${backbone} expects images [B, H, W, ${input.channels}] (NHWC), got shape [${x.shape}]`);
  }
}
