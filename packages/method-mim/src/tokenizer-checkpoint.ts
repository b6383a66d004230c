/**
 * Loads a trained `beit-tokenizer` for BEiT from a checkpoint directory, a run directory (its
 * latest checkpoint) or a run id (under `$SELFSUP_HOME/runs`, default `.selfsup/runs`, the
 * runner's layout). Synchronous, because methods are built synchronously; every file is checked
 * against the checkpoint's manifest (size and sha256) before anything is decoded, as core's
 * `loadCheckpoint` does.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { type CheckpointManifest, Rng, tf } from "@selfsup/core";
import { PatchTokenizer, specFromVector } from "./patch-tokenizer.js";

/** The module name and spec state under which `beit-tokenizer` checkpoints its tokenizer. */
export const TOKENIZER_MODULE = "tokenizer";
export const TOKENIZER_SPEC_STATE = "spec";

export const MAKE_TOKENIZER_HINT =
  "train one first, on the same dataset and patch size: `selfsup train --method beit-tokenizer --dataset mnist --epochs 1` " +
  "(add `--set method.options.kind=kmeans` for the fast k-means tokenizer), then pass its run id, run directory or " +
  "checkpoint directory as BEiT's option `tokenizer` (`--set method.options.tokenizer=<run>`, or `auxiliary.<i>.options.tokenizer` for BEiT as an auxiliary task)";

/** The checkpoint directory a `tokenizer` option names, or an error saying what was looked at. */
export function resolveTokenizerCheckpoint(ref: string): string {
  const home = resolve(process.env.SELFSUP_HOME || ".selfsup");
  const candidates = [resolve(ref), join(home, "runs", ref)];
  for (const dir of candidates) {
    if (!existsSync(dir) || !statSync(dir).isDirectory()) continue;
    if (existsSync(join(dir, "manifest.json"))) return dir;
    const ckpts = join(dir, "checkpoints");
    if (existsSync(ckpts)) {
      const steps = readdirSync(ckpts)
        .filter((n) => /^step-\d+$/.test(n) && existsSync(join(ckpts, n, "manifest.json")))
        .sort();
      const latest = steps.at(-1);
      if (latest) return join(ckpts, latest);
      throw new Error(`beit: tokenizer run ${dir} has no complete checkpoint yet; ${MAKE_TOKENIZER_HINT}`);
    }
  }
  throw new Error(
    `beit: tokenizer "${ref}" is neither a checkpoint directory, a run directory nor a run id (looked at ${candidates.join(" and ")}); ${MAKE_TOKENIZER_HINT}`,
  );
}

function readVerified(dir: string, manifest: CheckpointManifest, name: string): Buffer {
  const entry = manifest.files[name];
  const path = join(dir, name);
  if (!entry) throw new Error(`beit: ${join(dir, "manifest.json")} does not list ${name}`);
  const buf = readFileSync(path);
  if (buf.byteLength !== entry.bytes)
    throw new Error(`beit: ${path} has ${buf.byteLength} bytes but manifest.json records ${entry.bytes}`);
  const sha = createHash("sha256").update(buf).digest("hex");
  if (sha !== entry.sha256)
    throw new Error(`beit: checksum mismatch in ${path}; the file is corrupted or was modified`);
  return buf;
}

/** Builds the tokenizer a checkpoint holds and loads its weights. The caller owns (disposes) it. */
export function loadPatchTokenizer(ref: string): { tokenizer: PatchTokenizer; dir: string } {
  const dir = resolveTokenizerCheckpoint(ref);
  const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as CheckpointManifest;
  const model = JSON.parse(readVerified(dir, manifest, "model.json").toString("utf8")) as {
    weightsManifest: Array<{ weights: tf.io.WeightsManifestEntry[] }>;
  };
  const bin = readVerified(dir, manifest, "weights.bin");
  const specs = model.weightsManifest?.[0]?.weights;
  if (!specs) throw new Error(`beit: ${join(dir, "model.json")} has no weightsManifest`);
  const buffer = bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength) as ArrayBuffer;
  const named = tf.io.decodeWeights(buffer, specs);
  try {
    const spec = named[`state/${TOKENIZER_SPEC_STATE}`];
    if (!spec) {
      throw new Error(
        `beit: ${dir} is not a beit-tokenizer checkpoint (no state/${TOKENIZER_SPEC_STATE}; weights: ${Object.keys(named).slice(0, 5).join(", ")}, ...); ${MAKE_TOKENIZER_HINT}`,
      );
    }
    const tokenizer = new PatchTokenizer(specFromVector(spec.dataSync(), dir), new Rng(0));
    const prefix = `${TOKENIZER_MODULE}/`;
    const values = new Map<string, tf.Tensor>();
    for (const [name, t] of Object.entries(named))
      if (name.startsWith(prefix)) values.set(name.slice(prefix.length), t);
    try {
      tokenizer.loadStateDict(values);
    } catch (err) {
      tokenizer.dispose();
      throw new Error(`beit: ${dir}: ${(err as Error).message}`);
    }
    return { tokenizer, dir };
  } finally {
    for (const t of Object.values(named)) t.dispose();
  }
}
