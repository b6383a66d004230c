/** What the export tests share: backbones with trained-looking state, and the inputs they run on. */
import type { FeatureModule } from "../../src/nn/module.js";
import type { BackboneSpec, InputSpec } from "../../src/plugin/types.js";
import { Rng } from "../../src/rng.js";
import { tf } from "../../src/tf.js";

export const digits = { kind: "image", height: 28, width: 28, channels: 1 } as const;
export const cifar = { kind: "image", height: 16, width: 16, channels: 3 } as const;

function uniform(v: tf.Variable, rng: Rng, offset: number): void {
  v.assign(
    tf.tensor(
      Array.from({ length: v.size }, () => offset + rng.next()),
      v.shape,
    ),
  );
}

/**
 * A backbone (seed 3) in eval mode whose BatchNorm running statistics, norm scales and biases hold
 * non-trivial values, as after training, so an exporter that ignored any of them fails.
 */
export function buildTrainedLooking(
  spec: BackboneSpec,
  options: Record<string, unknown>,
  input: InputSpec,
): FeatureModule {
  const m = spec.build(spec.options.parse(options), input, new Rng(3));
  const rng = new Rng(11);
  for (const [name, v] of m.stateDict()) {
    if (/running_var$/.test(name)) uniform(v, rng, 0.5);
    else if (/running_mean$|bias$/.test(name) && !/\.(qkv|proj|fc\d|patch_embed)\./.test(name))
      uniform(v, rng, -0.5);
    else if (/(bn\d?|norm\d?|stem_bn|shortcut_bn)\.weight$/.test(name)) uniform(v, rng, 0.5);
  }
  return m.eval();
}
