/**
 * What the masked-image methods need of their backbone: core's vit-tiny, in the mask mode the
 * method's paper uses, with an error that says how to configure it otherwise.
 */
import { type FeatureModule, ViT } from "@selfsup/core";

/** The backbone as a ViT in `maskMode`, or an error naming the method and the fix. */
export function requireViT(backbone: FeatureModule, method: string, maskMode: "remove" | "token"): ViT {
  if (!(backbone instanceof ViT)) {
    throw new Error(
      `${method} needs a vit-tiny backbone (it works on patch tokens), got ${backbone.constructor.name}; ` +
        `set the run's backbone to { name: "vit-tiny", options: { maskMode: "${maskMode}" } }`,
    );
  }
  if (backbone.options.maskMode !== maskMode) {
    throw new Error(
      `${method} needs vit-tiny with maskMode "${maskMode}" (${
        maskMode === "remove"
          ? "the encoder sees only the visible patches"
          : "masked patches are replaced by a learned mask token"
      }), but the backbone has maskMode "${backbone.options.maskMode}"; set backbone options { maskMode: "${maskMode}" }`,
    );
  }
  return backbone;
}
