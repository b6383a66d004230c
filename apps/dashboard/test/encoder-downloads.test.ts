/**
 * The run page's encoder downloads, through the route handler as Next calls it: a tiny run is
 * trained by the real CLI, then GET /api/runs/<id>/encoder/<file> makes each file once from the
 * latest checkpoint with `selfsup export` / `selfsup embed` and serves it; unknown files, unknown
 * runs and runs without checkpoints get a clear 4xx.
 */
import { spawnSync } from "node:child_process";
import { statSync } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { selfsupCliPath } from "../src/server/encoder-files";

let home: string;
let runId: string;
type Route = typeof import("../app/api/runs/[id]/encoder/[file]/route");
let route: Route;

async function get(id: string, file: string): Promise<Response> {
  return route.GET(new Request(`http://127.0.0.1/api/runs/${id}/encoder/${file}`), {
    params: Promise.resolve({ id, file }),
  });
}

beforeAll(async () => {
  home = await mkdtemp(path.join(tmpdir(), "selfsup-dash-encoder-"));
  const env = {
    ...process.env,
    SELFSUP_HOME: home,
    SELFSUP_BACKEND: "cpu",
    FORCE_COLOR: "0",
  } as NodeJS.ProcessEnv;
  delete env.DATABASE_URL;
  delete env.SELFSUP_TOKEN;
  const config = path.join(home, "run.yaml");
  await writeFile(
    config,
    [
      "method: { name: simclr, options: { projectorHiddenDim: 16, projectorOutputDim: 8 } }",
      "backbone: { name: convnet, options: { width: 4, strides: [2] } }",
      "dataset: { name: synthetic, options: { size: 8, trainSize: 32, testSize: 16 } }",
      "training: { epochs: 1, batchSize: 16 }",
      "eval: { knn: false }",
    ].join("\n"),
  );
  const r = spawnSync(process.execPath, [selfsupCliPath(), "train", config, "--json", "--name", "dl"], {
    env,
    encoding: "utf8",
  });
  expect(r.status, r.stderr).toBe(0);
  runId = String(
    r.stdout
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l))
      .find((e) => e.type === "start")?.runId,
  );
  process.env.SELFSUP_HOME = home;
  process.env.SELFSUP_BACKEND = "cpu";
  process.env.HOST = "127.0.0.1"; // loopback: reading needs no login
  delete process.env.DATABASE_URL;
  route = await import("../app/api/runs/[id]/encoder/[file]/route");
});

afterAll(async () => {
  const { getStore } = await import("../src/server/store");
  await (await getStore()).close();
});

describe("encoder downloads", () => {
  it("makes each file once from the latest checkpoint and serves it", async () => {
    const onnx = await get(runId, "encoder.onnx");
    expect(onnx.status, await onnx.clone().text()).toBe(200);
    expect(onnx.headers.get("content-disposition")).toMatch(/attachment; filename=".*-step2-encoder.onnx"/);
    const bytes = new Uint8Array(await onnx.arrayBuffer());
    expect(bytes.length).toBeGreaterThan(500);
    expect(Buffer.from(bytes).includes(Buffer.from("selfsup.input"))).toBe(true);

    const model = await get(runId, "model.json");
    expect(model.status).toBe(200);
    const json = (await model.json()) as { format: string; weightsManifest: Array<{ paths: string[] }> };
    expect(json.format).toBe("graph-model");
    const shard = await get(runId, json.weightsManifest[0]?.paths[0] as string);
    expect(shard.status).toBe(200);

    const parquet = await get(runId, "test-embeddings.parquet");
    expect(parquet.status, await parquet.clone().text()).toBe(200);
    const pq = Buffer.from(await parquet.arrayBuffer());
    expect(pq.subarray(0, 4).toString()).toBe("PAR1");
    expect(pq.subarray(-4).toString()).toBe("PAR1");

    // the second request is served from the cache, not exported again
    const cached = path.join(home, "runs", runId, "exports", "step-2", "encoder.onnx");
    const before = statSync(cached).mtimeMs;
    expect((await get(runId, "encoder.onnx")).status).toBe(200);
    expect(statSync(cached).mtimeMs).toBe(before);
  });

  it("answers unknown files, unknown runs and runs without checkpoints clearly", async () => {
    process.env.SELFSUP_AUTH = "required";
    try {
      expect((await get(runId, "encoder.onnx")).status).toBe(401);
    } finally {
      delete process.env.SELFSUP_AUTH;
    }
    const bad = await get(runId, "weights.pt");
    expect(bad.status).toBe(404);
    expect((await bad.json()).error).toContain("no encoder file");
    const none = await get("nope", "encoder.onnx");
    expect(none.status).toBe(404);
    const { getStore } = await import("../src/server/store");
    const store = await getStore();
    const empty = await store.createRun({ method: "simclr", dataset: "synthetic", name: "empty" });
    const r = await get(empty.id, "encoder.onnx");
    expect(r.status).toBe(409);
    expect((await r.json()).error).toContain("has no checkpoint yet");
  });
});
