/**
 * `selfsup embed <run> [data] --out x.parquet|x.npy|x.jsonl`: the run's encoder (latest, best or
 * `--checkpoint N`) over a dataset split (the run's own, `--dataset <name>`, an image folder or a
 * text file), batched with bounded memory, written atomically by the extension of `--out`.
 */
import { existsSync, statSync } from "node:fs";
import path from "node:path";
import {
  type BackendRequest,
  type Dataset,
  type DatasetSplit,
  type InputSpec,
  initBackend,
  Rng,
  splitBatches,
  tf,
} from "@selfsup/core";
import cliProgress from "cli-progress";
import { type CheckpointChoice, closeDataset, openRunEncoder, sampleShape } from "../encoder/load-encoder.js";
import { checkOutputFree, formatOf, openEmbeddingWriter, outputFiles } from "../encoder/writers.js";
import { CliError, EXIT } from "../exit-codes.js";
import { loadDataset } from "../run/dataset.js";

export interface EmbedOptions {
  out?: string;
  dataset?: string;
  split?: string;
  checkpoint?: string;
  batchSize?: string;
  limit?: string;
  force?: boolean;
  json?: boolean;
  quiet?: boolean;
  backend?: BackendRequest;
}

export function parseCheckpointChoice(value: string | undefined): CheckpointChoice {
  if (value === undefined || value === "latest") return "latest";
  if (value === "best") return "best";
  if (/^\d+$/.test(value)) return Number(value);
  throw new CliError(
    `--checkpoint: expected latest, best or a step number (got ${JSON.stringify(value)})`,
    EXIT.usage,
  );
}

function positiveInt(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new CliError(`${flag}: expected a positive integer (got ${value})`, EXIT.usage);
  return n;
}

function describeInput(input: InputSpec): string {
  return input.kind === "image"
    ? `${input.height}x${input.width}x${input.channels} images`
    : `token sequences of ${input.seqLen} (vocabulary ${input.vocabSize})`;
}

/** The dataset to embed: the run's, another registered one, an image folder or a text file. */
async function datasetFor(
  data: string | undefined,
  opts: EmbedOptions,
  run: Awaited<ReturnType<typeof openRunEncoder>>,
): Promise<{ dataset: Dataset; what: string; wholeSource: boolean }> {
  const { config, registry, encoder } = run;
  const input = encoder.input;
  if (data !== undefined) {
    if (!existsSync(data)) throw new CliError(`${data}: no such file or folder`, EXIT.usage);
    if (statSync(data).isDirectory()) {
      if (input.kind !== "image")
        throw new CliError(
          `${data} is a folder of images, but run ${encoder.source.runId}'s encoder takes ${describeInput(input)}`,
          EXIT.usage,
        );
      const same = config.dataset.name === "image-folder" ? config.dataset.options : {};
      // resized and converted as the run's own images were: to the encoder's size and channels
      const options = {
        ...same,
        path: path.resolve(data),
        testPath: undefined,
        size: [input.height, input.width],
        channels: input.channels,
      };
      return {
        dataset: await loadDataset(registry, { name: "image-folder", options }),
        what: data,
        wholeSource: true,
      };
    }
    if (input.kind !== "text" || config.dataset.name !== "text-lines")
      throw new CliError(
        `${data} is a file: a text file is embedded with the tokenizer of a run trained on text-lines, but run ${encoder.source.runId} was trained on ${config.dataset.name} (${describeInput(input)})`,
        EXIT.usage,
      );
    const options = { ...config.dataset.options, path: path.resolve(data), testFraction: 0 };
    return {
      dataset: await loadDataset(registry, { name: "text-lines", options }),
      what: data,
      wholeSource: true,
    };
  }
  if (opts.dataset && opts.dataset !== config.dataset.name)
    return {
      dataset: await loadDataset(registry, { name: opts.dataset, options: {} }),
      what: opts.dataset,
      wholeSource: false,
    };
  return { dataset: run.dataset, what: config.dataset.name, wholeSource: false };
}

function sameInput(a: InputSpec, b: InputSpec): boolean {
  return (
    JSON.stringify(sampleShape(a)) === JSON.stringify(sampleShape(b)) &&
    a.kind === b.kind &&
    (a.kind !== "text" || b.kind !== "text" || a.vocabSize <= b.vocabSize)
  );
}

export async function embedCommand(
  target: string,
  data: string | undefined,
  opts: EmbedOptions,
): Promise<number> {
  if (!opts.out) throw new CliError("--out is required: x.parquet, x.npy or x.jsonl", EXIT.usage);
  const out = path.resolve(opts.out);
  formatOf(out);
  checkOutputFree(outputFiles(out), opts.force);
  if (!existsSync(path.dirname(out)))
    throw new CliError(`--out: folder ${path.dirname(out)} does not exist`, EXIT.usage);
  const splitName = opts.split ?? "test";
  if (!["train", "test", "all"].includes(splitName))
    throw new CliError(`--split: expected train, test or all (got ${JSON.stringify(splitName)})`, EXIT.usage);
  const batchSize = positiveInt(opts.batchSize, "--batch-size", 256);
  const limit = opts.limit === undefined ? undefined : positiveInt(opts.limit, "--limit", 0);
  const checkpoint = parseCheckpointChoice(opts.checkpoint);

  const backend = await initBackend(opts.backend ?? "auto");
  const log = (m: string) => {
    if (!opts.quiet) process.stderr.write(`${m}\n`);
  };
  const run = await openRunEncoder(target, { checkpoint });
  const { encoder } = run;
  let other: Dataset | undefined;
  try {
    const { dataset, what, wholeSource } = await datasetFor(data, opts, run);
    if (dataset !== run.dataset) other = dataset;
    if (!sameInput(dataset.input, encoder.input))
      throw new CliError(
        `${what} gives ${describeInput(dataset.input)} but run ${encoder.source.runId}'s encoder takes ${describeInput(encoder.input)}`,
        EXIT.usage,
      );
    const parts: Array<{ name: string; split: DatasetSplit }> = [];
    if (wholeSource) parts.push({ name: "train", split: dataset.train });
    else {
      if (splitName !== "test") parts.push({ name: "train", split: dataset.train });
      if (splitName !== "train") {
        if (!dataset.test) throw new CliError(`${what} has no test split; use --split train`, EXIT.usage);
        parts.push({ name: "test", split: dataset.test });
      }
    }
    let total = parts.reduce((n, p) => n + p.split.size, 0);
    if (limit !== undefined) total = Math.min(total, limit);
    if (total === 0) throw new CliError(`${what} has no samples to embed`, EXIT.usage);
    const withPath = parts.some((p) => Array.isArray((p.split as { entries?: unknown }).entries));
    log(
      `embedding ${total} samples of ${what}${wholeSource ? "" : ` (${splitName})`} with run ${encoder.source.runId} (${encoder.source.method}, ${encoder.source.backbone.name}, step ${encoder.source.checkpoint.step}) on ${backend.backend}`,
    );
    const writer = openEmbeddingWriter(out, {
      rows: total,
      dim: encoder.outputDim,
      withPath,
      meta: {
        run: encoder.source.runId,
        method: encoder.source.method,
        backbone: encoder.source.backbone,
        checkpointStep: encoder.source.checkpoint.step,
        dataset: what,
        split: wholeSource ? "all" : splitName,
        input: encoder.input,
      },
    });
    const bar =
      !opts.quiet && !opts.json && process.stderr.isTTY
        ? new cliProgress.SingleBar(
            {
              stream: process.stderr,
              format: "embed |{bar}| {value}/{total} | ETA {eta_formatted}",
              hideCursor: true,
              fps: 5,
            },
            cliProgress.Presets.shades_classic,
          )
        : undefined;
    bar?.start(total, 0);
    let done = 0;
    let indexBase = 0;
    let files: string[];
    try {
      for (const part of parts) {
        const entries = (part.split as { entries?: ReadonlyArray<{ file?: string }> }).entries;
        for await (const b of splitBatches(part.split, {
          batchSize,
          shuffle: false,
          rng: new Rng(0),
          dropLast: false,
          input: dataset.input,
        })) {
          const take = Math.min(b.indices.length, total - done);
          const labels = b.labels ? Array.from(b.labels.dataSync()) : undefined;
          b.labels?.dispose();
          let emb: Float32Array;
          try {
            const x = take < b.indices.length ? tf.slice(b.inputs, 0, take) : b.inputs;
            const z = encoder.embed(x);
            emb = (await z.data()) as Float32Array;
            z.dispose();
            if (x !== b.inputs) x.dispose();
          } finally {
            b.inputs.dispose();
          }
          const idx = b.indices.slice(0, take);
          await writer.write({
            index: idx.map((i) => indexBase + i),
            label: idx.map((_, k) => labels?.[k] ?? null),
            path: idx.map((i) => entries?.[i]?.file ?? null),
            embeddings: emb,
          });
          done += take;
          bar?.update(done);
          if (opts.json && !opts.quiet)
            process.stdout.write(`${JSON.stringify({ type: "embed-progress", done, total })}\n`);
          if (done >= total) break;
        }
        indexBase += part.split.size;
        if (done >= total) break;
      }
      files = await writer.finish();
    } catch (err) {
      writer.abort();
      throw err;
    } finally {
      bar?.stop();
    }
    const summary = {
      type: "embed-done",
      rows: done,
      dim: encoder.outputDim,
      files,
      run: encoder.source.runId,
    };
    if (opts.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
    else log(`wrote ${done} embeddings of ${encoder.outputDim} floats: ${files.join(", ")}`);
    return EXIT.ok;
  } finally {
    encoder.dispose();
    await closeDataset(run.dataset);
    if (other) await closeDataset(other);
  }
}
