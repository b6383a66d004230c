/**
 * Options that name another run's trained checkpoint (a method spec's `requires`: BEiT's
 * `tokenizer`, a trained `beit-tokenizer`). The runner turns what the user typed into the
 * checkpoint directory before the method is built, so a method package never needs the store:
 * a checkpoint directory is taken as it is; a run id, a run name or a run directory becomes the
 * run's newest intact checkpoint, passing over a torn one with a warning exactly as resume,
 * `eval` and `embed` do (run-checkpoint.ts). The run must be of the required method. The run's
 * stored config then records the very checkpoint it was trained against.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import type { Registry } from "@selfsup/core";
import type { RunStore } from "@selfsup/store";
import { ConfigError, type ResolvedRunConfig } from "../config.js";
import { findRunCheckpoint } from "./run-checkpoint.js";

export interface ResolveRequiredOptions {
  /** Told of a torn checkpoint passed over and of the one used instead. */
  warn: (message: string) => void;
  /** The store to look runs up in (default: SELFSUP_HOME's, opened only when a run is named). */
  store?: RunStore;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * `cfg` with every `requires` option of its method and auxiliaries replaced by a checkpoint
 * directory; throws a ConfigError naming the option's path (`method.options.tokenizer`,
 * `auxiliary.0.options.tokenizer`) when it is unset, names nothing, or names a run of another method.
 */
export async function resolveRequiredCheckpoints(
  registry: Registry,
  cfg: ResolvedRunConfig,
  opts: ResolveRequiredOptions,
): Promise<ResolvedRunConfig> {
  const uses = [
    { name: cfg.method.name, options: cfg.method.options, at: "method.options" },
    ...cfg.auxiliary.map((a, i) => ({ name: a.name, options: a.options, at: `auxiliary.${i}.options` })),
  ];
  const resolved = new Map<string, Record<string, unknown>>();
  for (const use of uses) {
    const requires = registry.get("method", use.name).requires;
    if (!requires) continue;
    const at = `${use.at}.${requires.option}`;
    const ref = use.options[requires.option];
    const how = `train one first (\`selfsup train --method ${requires.method} --dataset ${cfg.dataset.name}\`), then pass its run id or name, run directory or checkpoint directory: \`--set ${at}=<run>\``;
    if (typeof ref !== "string" || ref === "")
      throw new ConfigError(
        `invalid run config:\n  ${at}: method "${use.name}" needs a trained ${requires.method} checkpoint; ${how}`,
      );
    let dir: string;
    if (existsSync(path.join(ref, "manifest.json"))) {
      dir = path.resolve(ref); // a checkpoint directory: the method checks its files
    } else {
      try {
        const found = await findRunCheckpoint(ref, {
          warn: (m) => opts.warn(`${at}: ${m}`),
          method: requires.method,
          ...(opts.store ? { store: opts.store } : {}),
        });
        dir = found.dir;
      } catch (err) {
        throw new ConfigError(`invalid run config:\n  ${at}: ${message(err)}; ${how}`);
      }
    }
    resolved.set(use.at, { ...use.options, [requires.option]: dir });
  }
  if (resolved.size === 0) return cfg;
  return {
    ...cfg,
    method: { ...cfg.method, options: resolved.get("method.options") ?? cfg.method.options },
    auxiliary: cfg.auxiliary.map((a, i) => ({
      ...a,
      options: resolved.get(`auxiliary.${i}.options`) ?? a.options,
    })),
  };
}
