import "@tensorflow/tfjs-backend-cpu";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  bestCheckpoint,
  type CheckpointData,
  CheckpointError,
  checkpointDirFor,
  latestCheckpoint,
  listCheckpoints,
  loadCheckpoint,
  pruneCheckpoints,
  saveCheckpoint,
  verifyCheckpoint,
} from "../../src/checkpoint/index.js";
import { tf } from "../../src/tf.js";

let root: string;
beforeAll(async () => {
  await tf.setBackend("cpu");
  root = await mkdtemp(join(tmpdir(), "selfsup-ckpt-"));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

function sample(step = 3, metrics: Record<string, number> = {}): CheckpointData {
  return {
    weights: new Map<string, tf.Tensor>([
      [
        "encoder/fc.weight",
        tf.tensor2d([
          [1, 2, 3],
          [4, 5, 6],
        ]),
      ],
      ["encoder/fc.bias", tf.tensor1d([0.5, -0.5, 0])],
      ["state/ptr", tf.scalar(7, "int32")],
    ]),
    optimizer: {
      name: "adamw",
      step,
      paramSteps: { "encoder/fc.weight": step },
      slots: new Map([["encoder/fc.weight/m", tf.fill([2, 3], 0.25)]]),
    },
    meta: {
      step,
      epoch: 1,
      rng: { data: [1, 2, 3, 4] },
      config: { batchSize: 16 },
      metrics,
      extra: { stepInEpoch: 2 },
    },
  };
}

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

describe("saveCheckpoint / loadCheckpoint", () => {
  it("writes tfjs weights + manifests, with sha256 of every file, and reads everything back", async () => {
    const dir = join(root, "roundtrip");
    const manifest = await saveCheckpoint(dir, sample());
    expect((await readdir(dir)).sort()).toEqual([
      "manifest.json",
      "model.json",
      "optimizer.bin",
      "optimizer.json",
      "state.json",
      "weights.bin",
    ]);
    const model = JSON.parse(await readFile(join(dir, "model.json"), "utf8"));
    expect(model.weightsManifest[0].paths).toEqual(["weights.bin"]);
    expect(model.weightsManifest[0].weights.map((w: { name: string }) => w.name)).toEqual([
      "encoder/fc.weight",
      "encoder/fc.bias",
      "state/ptr",
    ]);
    expect((await readFile(join(dir, "weights.bin"))).byteLength).toBe((6 + 3 + 1) * 4);
    for (const [name, f] of Object.entries(manifest.files))
      expect(f.sha256).toBe(sha(await readFile(join(dir, name))));

    const ck = await loadCheckpoint(dir);
    expect(Array.from(ck.weights.get("encoder/fc.weight")!.dataSync())).toEqual([1, 2, 3, 4, 5, 6]);
    expect(ck.weights.get("encoder/fc.weight")!.shape).toEqual([2, 3]);
    expect(ck.weights.get("state/ptr")!.dtype).toBe("int32");
    expect(Array.from(ck.optimizer!.slots.get("encoder/fc.weight/m")!.dataSync())).toEqual([
      0.25, 0.25, 0.25, 0.25, 0.25, 0.25,
    ]);
    expect(ck.optimizer!.paramSteps).toEqual({ "encoder/fc.weight": 3 });
    expect(ck.meta).toEqual(sample().meta);
    ck.dispose();
  });

  it("detects a corrupted file and names it", async () => {
    const dir = join(root, "corrupt");
    await saveCheckpoint(dir, sample());
    const bin = await readFile(join(dir, "weights.bin"));
    bin[5] = (bin[5] as number) ^ 0xff;
    await writeFile(join(dir, "weights.bin"), bin);
    await expect(loadCheckpoint(dir)).rejects.toThrow(/checksum mismatch in .*corrupt\/weights\.bin/);
  });

  it("verifyCheckpoint checks every file without decoding (what resume uses to skip torn ones)", async () => {
    const dir = join(root, "verify");
    const manifest = await saveCheckpoint(dir, sample());
    await expect(verifyCheckpoint(dir)).resolves.toEqual(manifest);
    const bin = await readFile(join(dir, "weights.bin"));
    await writeFile(join(dir, "weights.bin"), bin.subarray(0, bin.length - 1));
    await expect(verifyCheckpoint(dir)).rejects.toThrow(
      new RegExp(`weights\\.bin has ${bin.length - 1} bytes but manifest\\.json records ${bin.length}`),
    );
    bin[0] = (bin[0] as number) ^ 1;
    await writeFile(join(dir, "weights.bin"), bin);
    await expect(verifyCheckpoint(dir)).rejects.toThrow(/checksum mismatch in .*verify\/weights\.bin/);
  });

  it("detects a truncated or missing file", async () => {
    const dir = join(root, "truncated");
    await saveCheckpoint(dir, sample());
    await writeFile(join(dir, "optimizer.bin"), Buffer.alloc(3));
    await expect(loadCheckpoint(dir)).rejects.toThrow(
      /optimizer\.bin has 3 bytes but manifest\.json records 24/,
    );
    await rm(join(dir, "optimizer.bin"));
    await expect(loadCheckpoint(dir)).rejects.toThrow(/optimizer\.bin is missing/);
    await rm(join(dir, "manifest.json"));
    await expect(loadCheckpoint(dir)).rejects.toThrow(CheckpointError);
    await expect(loadCheckpoint(dir)).rejects.toThrow(/manifest\.json is missing/);
  });

  it("checks names and shapes against what the model expects, naming the variable", async () => {
    const dir = join(root, "shapes");
    await saveCheckpoint(dir, sample());
    const expect1 = new Map<string, number[]>([
      ["encoder/fc.weight", [3, 2]],
      ["encoder/fc.bias", [3]],
      ["encoder/extra", [1]],
    ]);
    const err = await loadCheckpoint(dir, { expect: expect1 }).catch((e: Error) => e);
    expect(String(err)).toMatch(/"encoder\/fc\.weight" has shape \[2,3\] but the model expects \[3,2\]/);
    expect(String(err)).toMatch(/missing "encoder\/extra"/);
    expect(String(err)).toMatch(/unexpected "state\/ptr"/);
  });

  it("is atomic: a write that throws leaves neither a partial nor a temp directory, and keeps the old one", async () => {
    const dir = join(root, "atomic");
    await saveCheckpoint(dir, sample(1));
    const bad = sample(2);
    bad.meta.extra = { big: 1n as unknown as number }; // JSON.stringify throws after weights.bin is written
    await expect(saveCheckpoint(dir, bad)).rejects.toThrow(/BigInt/);
    expect((await readdir(root)).filter((n) => n.startsWith("atomic"))).toEqual(["atomic"]);
    const ck = await loadCheckpoint(dir);
    expect(ck.meta.step).toBe(1);
    ck.dispose();

    const fresh = join(root, "atomic-new");
    await expect(saveCheckpoint(fresh, bad)).rejects.toThrow(/BigInt/);
    expect((await readdir(root)).filter((n) => n.startsWith("atomic-new"))).toEqual([]);
  });

  it("replaces an existing checkpoint directory of the same step", async () => {
    const dir = join(root, "replace");
    await saveCheckpoint(dir, sample(1));
    await saveCheckpoint(dir, sample(2));
    const ck = await loadCheckpoint(dir);
    expect(ck.meta.step).toBe(2);
    ck.dispose();
    expect((await readdir(root)).filter((n) => n.startsWith("replace"))).toEqual(["replace"]);
  });
});

describe("run directories", () => {
  it("lists complete checkpoints, finds the latest, ignores temp dirs, keeps last N and the best", async () => {
    const runDir = join(root, "run");
    expect(await latestCheckpoint(runDir)).toBeUndefined();
    const acc = [0.5, 0.9, 0.7, 0.6, 0.65];
    for (let i = 0; i < acc.length; i++)
      await saveCheckpoint(
        checkpointDirFor(runDir, (i + 1) * 10),
        sample((i + 1) * 10, { knn_top1: acc[i]! }),
      );
    // a crashed write and an unrelated directory
    await mkdir(`${checkpointDirFor(runDir, 60)}.tmp-12345`, { recursive: true });
    await mkdir(join(runDir, "checkpoints", "notes"));
    expect((await listCheckpoints(runDir)).map((c) => c.step)).toEqual([10, 20, 30, 40, 50]);
    expect(await latestCheckpoint(runDir)).toBe(checkpointDirFor(runDir, 50));
    expect(await bestCheckpoint(runDir, { metric: "knn_top1", mode: "max" })).toBe(
      checkpointDirFor(runDir, 20),
    );

    const removed = await pruneCheckpoints(runDir, {
      keepLast: 2,
      best: { metric: "knn_top1", mode: "max" },
    });
    expect(removed).toEqual([checkpointDirFor(runDir, 10), checkpointDirFor(runDir, 30)]);
    expect((await listCheckpoints(runDir)).map((c) => c.step)).toEqual([20, 40, 50]);
    await pruneCheckpoints(runDir, { keepLast: 1 });
    expect((await listCheckpoints(runDir)).map((c) => c.step)).toEqual([50]);
  });
});
