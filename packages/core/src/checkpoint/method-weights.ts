/**
 * A method's checkpointed tensors by stable name: `<module>/<param>` for every declared module's
 * state dict (parameters and buffers) and `state/<name>` for extra method state (a queue, a
 * permutation set). The Trainer writes and reads checkpoints through these two functions.
 */
import type { Method } from "../plugin/types.js";
import type { tf } from "../tf.js";

/** Every checkpointed tensor of `method`, referencing live tensors (save before the next step). */
export function methodWeights(method: Pick<Method, "modules" | "state">): Map<string, tf.Tensor> {
  const weights = new Map<string, tf.Tensor>();
  for (const [name, module] of Object.entries(method.modules())) {
    for (const [param, v] of module.stateDict()) weights.set(`${name}/${param}`, v);
  }
  for (const [name, v] of Object.entries(method.state?.() ?? {})) weights.set(`state/${name}`, v);
  return weights;
}

/**
 * Loads `weights` (as `methodWeights` names them) into the method's modules and state; `dir` names
 * the checkpoint in errors (a module or state the method does not have, a shape mismatch).
 */
export function restoreMethodWeights(
  method: Pick<Method, "name" | "modules" | "state">,
  weights: ReadonlyMap<string, tf.Tensor>,
  dir: string,
): void {
  const byModule = new Map<string, Map<string, tf.Tensor>>();
  const state = method.state?.() ?? {};
  const modules = method.modules();
  for (const [name, t] of weights) {
    const slash = name.indexOf("/");
    const owner = name.slice(0, slash);
    const rest = name.slice(slash + 1);
    if (owner === "state" && !(owner in modules)) {
      const v = state[rest];
      if (!v)
        throw new Error(
          `${dir}/weights.bin has method state "${rest}" that method "${method.name}" does not have`,
        );
      if (v.shape.join() !== t.shape.join())
        throw new Error(
          `${dir}/weights.bin: state "${rest}" has shape [${t.shape}] but the method's is [${v.shape}]`,
        );
      v.assign(t);
      continue;
    }
    if (!(owner in modules))
      throw new Error(
        `${dir}/weights.bin has weights of module "${owner}", which method "${method.name}" does not have`,
      );
    if (!byModule.has(owner)) byModule.set(owner, new Map());
    byModule.get(owner)?.set(rest, t);
  }
  for (const [name, module] of Object.entries(modules)) {
    try {
      module.loadStateDict(byModule.get(name) ?? new Map());
    } catch (err) {
      throw new Error(`${dir}/weights.bin, module "${name}": ${(err as Error).message}`);
    }
  }
}
