import type { InputSpec } from "../plugin/types.js";

/**
 * The backbone a run gets when neither its config nor its method names one: the small convnet
 * below 32 px, the CIFAR ResNet-18 from 32 px, the tiny text transformer for token sequences.
 */
export function defaultBackboneFor(input: InputSpec): { name: string; options?: Record<string, unknown> } {
  if (input.kind === "text") return { name: "text-transformer" };
  if (Math.min(input.height, input.width) >= 32) return { name: "resnet18" };
  return { name: "convnet" };
}

/**
 * Whether a method takes whatever image backbone it is given (no `defaultBackbone`, or core's
 * generic convnet / ResNet-18 choice) rather than needing a specific one (MAE's ViT). Benches and
 * the quickstart give such methods their own encoder so figures stay comparable.
 */
export function takesGenericBackbone(
  spec: { defaultBackbone?: (input: InputSpec) => { name: string } },
  input: InputSpec,
): boolean {
  const choice = spec.defaultBackbone?.(input);
  return choice === undefined || choice.name === "convnet" || choice.name === "resnet18";
}
