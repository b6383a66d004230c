/**
 * A small convolutional decoder from a feature vector back to an image, for the autoencoders:
 *
 *   Linear(D -> c·h0·w0) -> ReLU -> [x2 nearest upsampling -> conv3x3 -> ReLU] -> x2 upsampling
 *   -> conv3x3 -> sigmoid,  h0 = ceil(H/4), w0 = ceil(W/4), cropped to H x W.
 *
 * Upsampling is a broadcast (see upsample2) rather than resizeNearestNeighbor, whose gradient
 * kernel the wasm backend lacks.
 */
import { Conv2d, Linear, Module, Rng, tf } from "@selfsup/core";

/**
 * Nearest-neighbour x2 upsampling of [B,H,W,C] as one broadcast multiply,
 * [B,H,1,W,1,C] x ones [1,1,2,1,2,1]: its gradient is one sum. (A stack/concat version was 50x
 * slower to differentiate on wasm: 1.6 s vs 31 ms for a 64x7x7x32 batch, measured on the shared
 * 2-core box; tile has no rank-6 gradient.)
 */
export function upsample2(x: tf.Tensor): tf.Tensor {
  const [b, h, w, c] = x.shape as [number, number, number, number];
  return tf.tidy(() =>
    tf.reshape(tf.mul(tf.reshape(x, [b, h, 1, w, 1, c]), tf.ones([1, 1, 2, 1, 2, 1])), [b, 2 * h, 2 * w, c]),
  );
}

export class ConvDecoder extends Module {
  readonly fc: Linear;
  readonly conv1: Conv2d;
  readonly conv2: Conv2d;
  readonly h0: number;
  readonly w0: number;

  constructor(
    readonly inputDim: number,
    readonly height: number,
    readonly width: number,
    readonly channels: number,
    readonly hiddenChannels: number,
    rng: Rng,
  ) {
    super();
    this.h0 = Math.ceil(height / 4);
    this.w0 = Math.ceil(width / 4);
    const c = hiddenChannels;
    this.fc = this.addModule("fc", new Linear(inputDim, c * this.h0 * this.w0, rng));
    this.conv1 = this.addModule("conv1", new Conv2d(c, c, rng));
    this.conv2 = this.addModule("conv2", new Conv2d(c, channels, rng));
  }

  forward(z: tf.Tensor): tf.Tensor {
    const b = z.shape[0] as number;
    return tf.tidy(() => {
      let x = tf.relu(tf.reshape(this.fc.forward(z), [b, this.h0, this.w0, this.hiddenChannels]));
      x = tf.relu(this.conv1.forward(upsample2(x)));
      x = tf.sigmoid(this.conv2.forward(upsample2(x)));
      if (x.shape[1] !== this.height || x.shape[2] !== this.width)
        x = tf.slice(x, [0, 0, 0, 0], [b, this.height, this.width, this.channels]);
      return x;
    });
  }

  protected recreate(): ConvDecoder {
    return new ConvDecoder(
      this.inputDim,
      this.height,
      this.width,
      this.channels,
      this.hiddenChannels,
      new Rng(0),
    );
  }
}
