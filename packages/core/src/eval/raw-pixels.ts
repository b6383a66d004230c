import { type FeatureModule, Module } from "../nn/module.js";
import { tf } from "../tf.js";

/**
 * Flattened pixels as "features": the baseline every learned representation must beat (kNN and a
 * linear probe on raw pixels are the floor a self-supervised encoder is judged against).
 */
export class RawPixels extends Module implements FeatureModule {
  constructor(readonly outputDim: number) {
    super();
  }
  forward(x: tf.Tensor): tf.Tensor {
    return tf.reshape(tf.cast(x, "float32"), [x.shape[0] as number, -1]);
  }
  protected recreate(): RawPixels {
    return new RawPixels(this.outputDim);
  }
}
