/**
 * `selfsup embed` and `selfsup export` end to end on one tiny trained run: Parquet read back with hyparquet (a reader
 * that is not the writer) gives the run's stored kNN figure; .npy and JSONL hold the same numbers;
 * `loadEncoder` gives them from code; ONNX (onnxruntime-node), TF.js (tfjs-converter) and safetensors
 * exports give the same encoder; bad input (an existing --out, a torn checkpoint, a run
 * without checkpoints, another input shape) is refused or handled as documented.
 */

import { existsSync, readdirSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { initBackend, knnAccuracy, readSafetensors, tf } from "@selfsup/core";
import { openStore } from "@selfsup/store";
import { loadGraphModelSync } from "@tensorflow/tfjs-converter";
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from "hyparquet";
import * as ort from "onnxruntime-node";
import { PNG } from "pngjs";
import { beforeAll, describe, expect, it } from "vitest";
import { cliEnv, runCli, tempHome, tinyConfig, writeConfig } from "./helpers.js";

interface Row {
  index: bigint;
  label: number | null;
  embedding: number[];
}

async function readParquet(file: string): Promise<Row[]> {
  return (await parquetReadObjects({ file: await asyncBufferFromFile(file) })) as unknown as Row[];
}

function readNpy(buf: Buffer): { shape: number[]; data: Float32Array } {
  expect(buf.subarray(0, 6).toString("latin1")).toBe("\x93NUMPY");
  const len = buf.readUInt16LE(8);
  const header = buf.subarray(10, 10 + len).toString("latin1");
  expect(header).toContain("'descr': '<f4'");
  expect((10 + len) % 64).toBe(0);
  const shape = (/\((\d+), (\d+)\)/.exec(header) ?? []).slice(1).map(Number);
  const body = buf.subarray(10 + len);
  return {
    shape,
    data: new Float32Array(body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength)),
  };
}

describe("selfsup embed", () => {
  let home: string;
  let env: NodeJS.ProcessEnv;
  let runId: string;

  beforeAll(async () => {
    home = await tempHome("selfsup-embed-");
    env = cliEnv(home);
    const file = await writeConfig(
      home,
      tinyConfig({ epochs: 2, trainSize: 96, everySteps: 3, extra: "eval: { knn: true }" }),
    );
    const r = await runCli(["train", file, "--json", "--name", "embed-fixture"], env);
    expect(r.code, r.stderr).toBe(0);
    runId = String(r.events.find((e) => e.type === "start")?.runId);
  });

  it("writes Parquet that another reader loads, whose kNN equals the run's stored kNN", async () => {
    const train = path.join(home, "train.parquet");
    const test = path.join(home, "test.parquet");
    for (const [split, out] of [
      ["train", train],
      ["test", test],
    ] as const) {
      const r = await runCli(["embed", "embed-fixture", "--split", split, "--out", out, "-b", "10"], env);
      expect(r.code, r.stderr).toBe(0);
    }
    const trainRows = await readParquet(train);
    const testRows = await readParquet(test);
    expect(trainRows).toHaveLength(96);
    expect(testRows).toHaveLength(32);
    expect(testRows.map((r) => Number(r.index))).toEqual(Array.from({ length: 32 }, (_, i) => i));
    const dim = testRows[0]?.embedding.length ?? 0;
    expect(dim).toBe(4); // convnet width 4, one block
    for (const r of testRows) expect(r.embedding).toHaveLength(dim);
    const meta = await parquetMetadataAsync(await asyncBufferFromFile(test));
    const kv = JSON.parse(meta.key_value_metadata?.find((k) => k.key === "selfsup")?.value ?? "{}");
    expect(kv).toMatchObject({ dim, run: runId, method: "simclr", split: "test" });
    expect(meta.row_groups.length).toBe(1);

    const store = await openStore({ dataDir: path.join(home, "db") });
    let stored: number | undefined;
    try {
      stored = (await store.getEvaluations(runId)).find((e) => e.protocol === "knn")?.value;
    } finally {
      await store.close();
    }
    expect(stored).toBeDefined();
    await initBackend("cpu");
    const mat = (rows: Row[]) =>
      tf.tensor2d(
        rows.flatMap((r) => r.embedding),
        [rows.length, dim],
      );
    const trainFeatures = mat(trainRows);
    const testFeatures = mat(testRows);
    try {
      const acc = knnAccuracy({
        trainFeatures,
        trainLabels: Int32Array.from(trainRows.map((r) => r.label ?? -1)),
        testFeatures,
        testLabels: Int32Array.from(testRows.map((r) => r.label ?? -1)),
        numClasses: 1 + Math.max(...trainRows.map((r) => r.label ?? 0)),
      });
      expect(acc).toBeCloseTo(stored as number, 6);
    } finally {
      trainFeatures.dispose();
      testFeatures.dispose();
    }

    // the same embeddings as .npy (+ ids) and JSONL
    const npy = path.join(home, "test.npy");
    const jsonl = path.join(home, "test.jsonl");
    for (const out of [npy, jsonl]) {
      const r = await runCli(["embed", runId, "--out", out], env);
      expect(r.code, r.stderr).toBe(0);
    }
    const m = readNpy(await readFile(npy));
    expect(m.shape).toEqual([32, dim]);
    const ids = (await readFile(path.join(home, "test.ids.jsonl"), "utf8"))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(ids).toHaveLength(32);
    expect(ids[5]).toEqual({ index: 5, label: testRows[5]?.label });
    const lines = (await readFile(jsonl, "utf8"))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    testRows.forEach((row, i) => {
      for (let j = 0; j < dim; j++) {
        expect(m.data[i * dim + j]).toBeCloseTo(row.embedding[j] as number, 6);
        expect(lines[i].embedding[j]).toBeCloseTo(row.embedding[j] as number, 6);
      }
    });
  });

  it("refuses an existing --out without --force and leaves it untouched; --force replaces it", async () => {
    const out = path.join(home, "exists.parquet");
    await writeFile(out, "keep me");
    const refused = await runCli(["embed", runId, "--out", out], env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`${out} already exists; pass --force`);
    expect(await readFile(out, "utf8")).toBe("keep me");
    const forced = await runCli(["embed", runId, "--out", out, "--force"], env);
    expect(forced.code, forced.stderr).toBe(0);
    expect(await readParquet(out)).toHaveLength(32);
    expect(readdirSync(home).filter((f) => f.includes(".tmp-"))).toEqual([]);
    const badExt = await runCli(["embed", runId, "--out", path.join(home, "x.csv")], env);
    expect(badExt.code).toBe(2);
    expect(badExt.stderr).toContain("use .parquet, .npy or .jsonl (got .csv)");
  });

  it("refuses a dataset whose input is not the encoder's, naming both shapes", async () => {
    const r = await runCli(
      ["embed", runId, "--dataset", "mnist", "--out", path.join(home, "m.parquet")],
      env,
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("mnist gives 28x28x1 images but run");
    expect(r.stderr).toContain("takes 8x8x1 images");
    expect(existsSync(path.join(home, "m.parquet"))).toBe(false);
  });

  it("embeds a folder of images of another size and channel count, resized as the run's data", async () => {
    const folder = path.join(home, "photos");
    await mkdir(folder);
    for (let i = 0; i < 3; i++) {
      const png = new PNG({ width: 20, height: 12 }); // RGB, not the encoder's 8x8x1
      for (let p = 0; p < 240; p++) png.data.set([(p * 7 + i * 40) % 256, (p * 3) % 256, 90, 255], p * 4);
      await writeFile(path.join(folder, `p${i}.png`), PNG.sync.write(png));
    }
    const out = path.join(home, "photos.parquet");
    const r = await runCli(["embed", runId, folder, "--out", out], env);
    expect(r.code, r.stderr).toBe(0);
    const rows = (await readParquet(out)) as Array<Row & { path: string | null }>;
    expect(rows.map((x) => path.basename(x.path ?? ""))).toEqual(["p0.png", "p1.png", "p2.png"]);
    for (const x of rows) expect(x.embedding).toHaveLength(4);
    expect(rows[0]?.embedding).not.toEqual(rows[1]?.embedding);
  });

  it("loadEncoder gives the same embeddings from code, from a run directory", async () => {
    const { loadEncoder } = await import("../src/encoder/load-encoder.js");
    const { loadRegistry } = await import("../src/plugins.js");
    await initBackend("cpu");
    const enc = await loadEncoder(path.join(home, "runs", runId), {
      registry: (await loadRegistry()).registry,
    });
    try {
      expect(enc.input).toEqual({ kind: "image", height: 8, width: 8, channels: 1 });
      expect(enc.outputDim).toBe(4);
      expect(enc.source).toMatchObject({ runId, method: "simclr", backbone: { name: "convnet" } });
      const x = tf.randomUniform([3, 8, 8, 1]);
      const z = enc.embed(x);
      expect(z.shape).toEqual([3, 4]);
      const fromArrays = enc.embed([0, 1, 2].map((i) => tf.slice(x, i, 1).dataSync() as Float32Array));
      expect(Array.from(fromArrays[1] ?? [])).toEqual(Array.from(tf.slice(z, 1, 1).dataSync()));
      x.dispose();
      z.dispose();
      expect(() => enc.embed(tf.zeros([1, 9, 9, 1]))).toThrow(
        "takes [B, 8, 8, 1] (NHWC floats in [0, 1]), got [1,9,9,1]",
      );
    } finally {
      enc.dispose();
    }
  });

  it("says so when the run has no checkpoint", async () => {
    const store = await openStore({ dataDir: path.join(home, "db") });
    try {
      const run = await store.getRun(runId);
      await store.createRun({
        method: "simclr",
        dataset: "synthetic",
        name: "no-checkpoints",
        config: run?.config as Record<string, unknown>,
      });
    } finally {
      await store.close();
    }
    const r = await runCli(["embed", "no-checkpoints", "--out", path.join(home, "n.parquet")], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/run \S+ has no checkpoint to load/);
    expect(existsSync(path.join(home, "n.parquet"))).toBe(false);
  });

  it("exports ONNX that onnxruntime-node runs within 1e-4 of loadEncoder on 64 inputs", async () => {
    const out = path.join(home, "enc.onnx");
    const r = await runCli(["export", "embed-fixture", "--format", "onnx", "--out", out, "--json"], env);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout.trim().split("\n").at(-1) ?? "{}")).toMatchObject({
      type: "export-done",
      format: "onnx",
      run: runId,
      outputDim: 4,
    });
    const { loadEncoder } = await import("../src/encoder/load-encoder.js");
    const { loadRegistry } = await import("../src/plugins.js");
    await initBackend("cpu");
    const enc = await loadEncoder(path.join(home, "runs", runId), {
      registry: (await loadRegistry()).registry,
      checkpoint: "latest",
    });
    const session = await ort.InferenceSession.create(out);
    const x = tf.randomUniform([64, 8, 8, 1], 0, 1, "float32", 9);
    try {
      const ours = enc.embed(x);
      const res = await session.run({
        images: new ort.Tensor("float32", x.dataSync() as Float32Array, [64, 8, 8, 1]),
      });
      const a = ours.dataSync();
      const b = res.embedding?.data as Float32Array;
      expect(b.length).toBe(a.length);
      let max = 0;
      for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs((a[i] as number) - (b[i] as number)));
      expect(max).toBeLessThanOrEqual(1e-4);
      ours.dispose();

      // TF.js graph model: the same numbers through tfjs-converter
      const dir = path.join(home, "web-model");
      const t = await runCli(["export", runId, "--format", "tfjs", "--out", dir], env);
      expect(t.code, t.stderr).toBe(0);
      const json = JSON.parse(await readFile(path.join(dir, "model.json"), "utf8"));
      const shard = await readFile(path.join(dir, json.weightsManifest[0].paths[0]));
      const model = loadGraphModelSync([
        json,
        shard.buffer.slice(shard.byteOffset, shard.byteOffset + shard.byteLength),
      ]);
      const z = model.execute(x, "embedding") as tf.Tensor;
      const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(z, enc.embed(x)))).dataSync()[0] as number);
      expect(diff).toBeLessThanOrEqual(1e-4);
      z.dispose();
      model.dispose();

      // safetensors: the encoder's names (PyTorch layout) and its metadata
      const st = path.join(home, "enc.safetensors");
      const s = await runCli(["export", runId, "--format", "safetensors", "--out", st], env);
      expect(s.code, s.stderr).toBe(0);
      const { tensors, metadata } = readSafetensors(await readFile(st));
      expect(tensors.get("block1.conv.weight")?.shape).toEqual([4, 1, 3, 3]);
      expect(JSON.parse(metadata.backbone ?? "{}")).toMatchObject({ name: "convnet", options: { width: 4 } });

      // an existing output is refused, untouched, unless --force
      const again = await runCli(["export", runId, "--format", "tfjs", "--out", dir], env);
      expect(again.code).toBe(2);
      expect(again.stderr).toContain("already exists; pass --force");
      const forced = await runCli(["export", runId, "--format", "tfjs", "--out", dir, "--force"], env);
      expect(forced.code, forced.stderr).toBe(0);
      expect(readdirSync(home).filter((f) => f.includes(".tmp-"))).toEqual([]);
    } finally {
      x.dispose();
      await session.release();
      enc.dispose();
    }
  });

  it("refuses to export a method whose encoder is not a backbone, naming the module; nothing written", async () => {
    const file = await writeConfig(
      home,
      [
        "method: { name: jigsaw }",
        "backbone: { name: convnet, options: { width: 4, strides: [2] } }",
        "dataset: { name: synthetic, options: { size: 24, trainSize: 32, testSize: 8 } }",
        "training: { epochs: 1, batchSize: 16 }",
        "eval: { knn: false }",
      ].join("\n"),
      "jigsaw.yaml",
    );
    const t = await runCli(["train", file, "--name", "jigsaw-fixture", "-q"], env);
    expect(t.code, t.stderr).toBe(0);
    const out = path.join(home, "jigsaw.onnx");
    const r = await runCli(["export", "jigsaw-fixture", "--out", out], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      "(method jigsaw, backbone convnet) as onnx: no ONNX emitter for the encoder module TileTrunkEncoder",
    );
    expect(existsSync(out)).toBe(false);
  });

  it("falls back from a torn checkpoint to the previous one, saying so", async () => {
    // the last test of the file: the store's rows name this home's checkpoint paths
    const ckpts = path.join(home, "runs", runId, "checkpoints");
    const steps = readdirSync(ckpts)
      .filter((d) => d.startsWith("step-"))
      .sort();
    expect(steps.length).toBeGreaterThanOrEqual(2);
    const newest = steps.at(-1) as string;
    const [newStep, prevStep] = [newest, steps.at(-2) as string].map((d) => Number(d.slice(5)));
    const weights = path.join(ckpts, newest, "weights.bin");
    const bytes = await readFile(weights);
    bytes[0] = (bytes[0] ?? 0) ^ 0xff;
    await writeFile(weights, bytes);
    const out = path.join(home, "t.jsonl");
    const r = await runCli(["embed", runId, "--out", out], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`checkpoint at step ${newStep} .* skipped: .*weights.bin`));
    expect(r.stderr).toContain(`using the checkpoint at step ${prevStep} instead`);
    expect(r.stderr).toContain(`step ${prevStep}) on cpu`);
  });
});
