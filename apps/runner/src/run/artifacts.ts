/**
 * A run's artifacts beside its metrics: the augmentation preview (what the views look like) at
 * the start, the 2-D PCA scatter of the embeddings and the method's own pictures (its optional
 * `writeArtifacts`: reconstructions, codebook usage) at the end. All are best effort: a failure
 * is reported as a warning, never fails the run.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import {
  type Dataset,
  embeddingProjection,
  type Method,
  type Pipeline,
  writeAugmentPreview,
} from "@selfsup/core";
import type { RunStore } from "@selfsup/store";

type Warn = (message: string) => void;

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** `<runDir>/artifacts/augment-preview.png`, stored as the run's `augment-preview` artifact. */
export async function storeAugmentPreview(
  opts: {
    store: RunStore;
    runId: string;
    runDir: string;
    dataset: Dataset;
    pipeline: Pipeline;
    views: number;
    seed: number;
  },
  warn: Warn,
): Promise<void> {
  try {
    const out = path.join(opts.runDir, "artifacts", "augment-preview.png");
    await writeAugmentPreview({
      dataset: opts.dataset,
      pipeline: opts.pipeline,
      out,
      count: 8,
      views: opts.views,
      seed: opts.seed,
    });
    await opts.store.addArtifact({
      runId: opts.runId,
      kind: "augment-preview",
      name: "views.png",
      mime: "image/png",
      bytes: new Uint8Array(await readFile(out)),
    });
  } catch (err) {
    warn(`augmentation preview skipped: ${errorText(err)}`);
  }
}

/** PCA scatter of the test (else train) embeddings, for the dashboard. */
export async function storeEmbeddingScatter(
  opts: {
    store: RunStore;
    runId: string;
    runDir: string;
    method: Method;
    dataset: Dataset;
    batchSize: number;
    seed: number;
    step: number;
  },
  warn: Warn,
): Promise<void> {
  try {
    const { dataset } = opts;
    const split = dataset.test ?? dataset.train;
    const p = await embeddingProjection(opts.method.encoder(), split, {
      input: dataset.input,
      batchSize: opts.batchSize,
      limit: 1000,
      seed: opts.seed,
    });
    const data = {
      split: dataset.test ? "test" : "train",
      points: p.points,
      labels: p.labels,
      explainedVariance: p.explainedVariance,
    };
    await writeFile(path.join(opts.runDir, "artifacts", "embeddings-2d.json"), JSON.stringify(data));
    await opts.store.addArtifact({
      runId: opts.runId,
      kind: "pca",
      name: "embeddings-2d.json",
      mime: "application/json",
      step: opts.step,
      data,
    });
  } catch (err) {
    warn(`PCA scatter skipped: ${errorText(err)}`);
  }
}

/** Files the method writes with its optional `writeArtifacts` hook, stored as `method` artifacts. */
export async function storeMethodArtifacts(
  opts: { store: RunStore; runId: string; runDir: string; method: Method; dataset: Dataset },
  warn: Warn,
): Promise<void> {
  if (!opts.method.writeArtifacts) return;
  try {
    const dir = path.join(opts.runDir, "artifacts", "method");
    await mkdir(dir, { recursive: true });
    const files = await opts.method.writeArtifacts({ dataset: opts.dataset, dir });
    for (const f of files) {
      await opts.store.addArtifact({
        runId: opts.runId,
        kind: "method",
        name: f.name,
        mime: f.mime,
        bytes: new Uint8Array(await readFile(path.join(dir, path.basename(f.name)))),
      });
    }
  } catch (err) {
    warn(`method artifacts skipped: ${errorText(err)}`);
  }
}
