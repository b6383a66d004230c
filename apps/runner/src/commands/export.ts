/**
 * `selfsup export <run> --format onnx|safetensors|tfjs [--out path]`: the run's encoder (latest,
 * best or `--checkpoint N`) as an ONNX model, a safetensors file of named weights, or a TF.js graph
 * model directory. Written atomically (a temporary name renamed into place); an existing output is
 * refused unless --force.
 */
import { existsSync } from "node:fs";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import {
  type BackendRequest,
  exportOnnx,
  exportSafetensors,
  exportTfjsGraph,
  initBackend,
  OnnxExportError,
} from "@selfsup/core";
import { closeDataset, type LoadedEncoder, openRunEncoder } from "../encoder/load-encoder.js";
import { CliError, EXIT } from "../exit-codes.js";
import { parseCheckpointChoice } from "./embed.js";

export const EXPORT_FORMATS = ["onnx", "safetensors", "tfjs"] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface ExportOptions {
  format?: string;
  out?: string;
  checkpoint?: string;
  force?: boolean;
  layout?: string;
  backend?: BackendRequest;
  json?: boolean;
  quiet?: boolean;
}

function defaultOut(format: ExportFormat, runId: string): string {
  if (format === "onnx") return `${runId}-encoder.onnx`;
  if (format === "safetensors") return `${runId}-encoder.safetensors`;
  return `${runId}-encoder-tfjs`;
}

/** The facts about an encoder every format records. */
export function encoderFacts(enc: LoadedEncoder): Record<string, unknown> {
  return {
    run: enc.source.runId,
    runName: enc.source.runName,
    method: enc.source.method,
    backbone: enc.source.backbone,
    dataset: enc.source.dataset,
    checkpointStep: enc.source.checkpoint.step,
    outputDim: enc.outputDim,
  };
}

/** Writes `files` (name -> bytes) to `out` (a file, or a directory when `dir`) atomically. */
export async function writeAtomically(
  out: string,
  files: Record<string, Uint8Array | string>,
  dir: boolean,
  force: boolean | undefined,
): Promise<string[]> {
  if (existsSync(out) && !force)
    throw new CliError(`${out} already exists; pass --force to replace it`, EXIT.usage);
  if (!existsSync(path.dirname(out)))
    throw new CliError(`--out: folder ${path.dirname(out)} does not exist`, EXIT.usage);
  const tmp = path.join(path.dirname(out), `.${path.basename(out)}.tmp-${process.pid}`);
  await rm(tmp, { recursive: true, force: true });
  try {
    if (dir) {
      await mkdir(tmp);
      for (const [name, data] of Object.entries(files)) await writeFile(path.join(tmp, name), data);
    } else {
      const only = Object.values(files)[0];
      if (only === undefined) throw new Error("internal: nothing to write");
      await writeFile(tmp, only);
    }
    if (dir && existsSync(out)) await rm(out, { recursive: true, force: true });
    await rename(tmp, out);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
  return dir ? Object.keys(files).map((f) => path.join(out, f)) : [out];
}

export async function exportCommand(target: string, opts: ExportOptions): Promise<number> {
  const format = (opts.format ?? "onnx") as ExportFormat;
  if (!(EXPORT_FORMATS as readonly string[]).includes(format))
    throw new CliError(
      `--format: expected ${EXPORT_FORMATS.join(", ")} (got ${JSON.stringify(opts.format)})`,
      EXIT.usage,
    );
  const layout = opts.layout ?? "pytorch";
  if (layout !== "pytorch" && layout !== "selfsup")
    throw new CliError(`--layout: expected pytorch or selfsup (got ${JSON.stringify(layout)})`, EXIT.usage);
  const checkpoint = parseCheckpointChoice(opts.checkpoint);
  if (opts.out && existsSync(opts.out) && !opts.force)
    throw new CliError(`${path.resolve(opts.out)} already exists; pass --force to replace it`, EXIT.usage);
  await initBackend(opts.backend ?? "auto");
  const { encoder, dataset } = await openRunEncoder(target, { checkpoint });
  await closeDataset(dataset); // only its input spec was needed
  try {
    const out = path.resolve(opts.out ?? defaultOut(format, encoder.source.runId));
    const facts = encoderFacts(encoder);
    const what = `run ${encoder.source.runId} (method ${encoder.source.method}, backbone ${encoder.source.backbone.name})`;
    let files: Record<string, Uint8Array | string>;
    try {
      if (format === "onnx")
        files = { model: exportOnnx(encoder.module, { input: encoder.input, source: facts }) };
      else if (format === "safetensors")
        files = {
          model: exportSafetensors(encoder.module, {
            input: encoder.input,
            layout,
            metadata: { backbone: encoder.source.backbone, source: facts },
          }),
        };
      else files = await exportTfjsGraph(encoder.module, { input: encoder.input, source: facts });
    } catch (err) {
      if (err instanceof OnnxExportError)
        throw new CliError(`cannot export ${what} as ${format}: ${err.message}`, EXIT.failure);
      throw err;
    }
    const written = await writeAtomically(out, files, format === "tfjs", opts.force);
    const summary = { type: "export-done", format, files: written, ...facts };
    if (opts.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
    else if (!opts.quiet)
      process.stderr.write(
        `exported the encoder of ${what}, step ${encoder.source.checkpoint.step}, as ${format}: ${out}\n`,
      );
    return EXIT.ok;
  } finally {
    encoder.dispose();
  }
}
