import { tf } from "../../tf.js";
import { Module } from "../module.js";

/** max(0, x). */
export function relu(x: tf.Tensor): tf.Tensor {
  return tf.relu(x);
}

const GELU_C = Math.sqrt(2 / Math.PI);

/**
 * GELU (Hendrycks & Gimpel, 2016, https://arxiv.org/abs/1606.08415) in its tanh approximation,
 * 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), as in BERT and GPT-2. tfjs has no gelu op and no
 * erf gradient, while tanh has a kernel and a gradient on every backend.
 */
export function gelu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const cube = tf.mul(tf.mul(x, x), x);
    const inner = tf.mul(tf.add(x, tf.mul(cube, 0.044715)), GELU_C);
    return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
  });
}

/** `relu` as a module, for Sequential. */
export class ReLU extends Module {
  forward(x: tf.Tensor): tf.Tensor {
    return relu(x);
  }

  protected recreate(): ReLU {
    return new ReLU();
  }
}

/** `gelu` (tanh approximation) as a module, for Sequential. */
export class GELU extends Module {
  forward(x: tf.Tensor): tf.Tensor {
    return gelu(x);
  }

  protected recreate(): GELU {
    return new GELU();
  }
}
