import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";
import { tf } from "../../src/tf.js";

/** Uses the wasm backend (the project's default) for the augmentation tests. */
export async function useBackend(name: "wasm" | "cpu" = "wasm"): Promise<void> {
  await tf.setBackend(name);
  await tf.ready();
}

/** A deterministic batch [B,H,W,C] with values in [0,1] that differ per pixel. */
export function testImages(b: number, h: number, w: number, c: number): tf.Tensor4D {
  const data = new Float32Array(b * h * w * c);
  for (let i = 0; i < data.length; i++) data[i] = ((i * 7919) % 1000) / 999;
  return tf.tensor4d(data, [b, h, w, c]);
}

export function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
}
