/**
 * The run page's encoder downloads: ONNX, safetensors, the TF.js graph model (model.json + its
 * shard, loadable straight from the URL with `tf.loadGraphModel`) and the test split's embeddings
 * as Parquet. Each file is made once per checkpoint by the same exporter as the CLI, `selfsup
 * export` / `selfsup embed` run as a child process (tfjs stays off the server's event loop), into
 * `<run dir>/exports/step-N/`, then served from there. One export per file at a time; a failed
 * export answers with the CLI's own message.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { RunStore } from "@selfsup/store";

interface FileSpec {
  /** CLI arguments for run `run`, writing to `out`. */
  args: (run: string, out: string) => string[];
  /** Where the CLI writes (a folder for tfjs) relative to the cache dir, and the file in it. */
  output: string;
  file: string;
  type: string;
}

export const ENCODER_FILES: Record<string, FileSpec> = {
  "encoder.onnx": {
    args: (run, out) => ["export", run, "--format", "onnx", "--out", out],
    output: "encoder.onnx",
    file: "encoder.onnx",
    type: "application/octet-stream",
  },
  "encoder.safetensors": {
    args: (run, out) => ["export", run, "--format", "safetensors", "--out", out],
    output: "encoder.safetensors",
    file: "encoder.safetensors",
    type: "application/octet-stream",
  },
  "model.json": {
    args: (run, out) => ["export", run, "--format", "tfjs", "--out", out],
    output: "tfjs",
    file: "tfjs/model.json",
    type: "application/json",
  },
  "group1-shard1of1.bin": {
    args: (run, out) => ["export", run, "--format", "tfjs", "--out", out],
    output: "tfjs",
    file: "tfjs/group1-shard1of1.bin",
    type: "application/octet-stream",
  },
  "test-embeddings.parquet": {
    args: (run, out) => ["embed", run, "--split", "test", "--out", out, "-q"],
    output: "test-embeddings.parquet",
    file: "test-embeddings.parquet",
    type: "application/vnd.apache.parquet",
  },
};

/** Longest an export may take before it is stopped. */
export const EXPORT_TIMEOUT_MS = 10 * 60_000;

/** The `selfsup` CLI: SELFSUP_CLI, else the installed @selfsup/runner's dist/cli.js. */
export function selfsupCliPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.SELFSUP_CLI) return env.SELFSUP_CLI;
  const starts = [process.cwd(), path.dirname(fileURLToPath(import.meta.url))];
  for (const start of starts) {
    for (let dir = start; ; dir = path.dirname(dir)) {
      const cli = path.join(dir, "node_modules", "@selfsup", "runner", "dist", "cli.js");
      if (existsSync(cli)) return cli;
      if (path.dirname(dir) === dir) break;
    }
  }
  throw new Error("the selfsup CLI (@selfsup/runner) is not installed beside the dashboard; set SELFSUP_CLI");
}

const inFlight = new Map<string, Promise<void>>();

function runCli(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [selfsupCliPath(), ...args], {
      env: { ...process.env, FORCE_COLOR: "0" },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let err = "";
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (c: string) => {
      err = (err + c).slice(-8000);
    });
    const timer = setTimeout(() => child.kill("SIGTERM"), EXPORT_TIMEOUT_MS);
    child.on("error", reject);
    child.on("exit", (code) => {
      clearTimeout(timer);
      if (code === 0) return resolve();
      const line =
        err
          .split("\n")
          .map((l) => l.trim())
          .filter((l) => l.startsWith("selfsup:"))
          .at(-1) ?? err.trim().split("\n").at(-1);
      reject(
        Object.assign(new Error((line ?? `exit ${code}`).replace(/^selfsup:\s*/, "")), { exitCode: code }),
      );
    });
  });
}

export type EncoderFileResult =
  | { path: string; type: string; step: number }
  | { status: number; error: string };

/** The file `name` of run `runId`'s latest checkpoint, made on first request. */
export async function encoderFile(store: RunStore, runId: string, name: string): Promise<EncoderFileResult> {
  const spec = Object.hasOwn(ENCODER_FILES, name) ? ENCODER_FILES[name] : undefined;
  if (!spec)
    return {
      status: 404,
      error: `no encoder file ${JSON.stringify(name)}; one of ${Object.keys(ENCODER_FILES).join(", ")}`,
    };
  const run = await store.getRun(runId);
  if (!run) return { status: 404, error: `run ${runId} not found` };
  const ckpts = (await store.listCheckpoints(runId)).sort((a, b) => b.step - a.step);
  const latest = ckpts.find((c) => existsSync(path.join(c.path, "manifest.json")));
  if (!latest)
    return {
      status: 409,
      error:
        ckpts.length === 0
          ? `run ${runId} has no checkpoint yet`
          : `run ${runId}'s checkpoints are not on this host (${ckpts[0]?.path})`,
    };
  const cache = path.join(path.dirname(path.dirname(latest.path)), "exports", `step-${latest.step}`);
  const target = path.join(cache, spec.file);
  if (!existsSync(target)) {
    const key = path.join(cache, spec.output);
    let job = inFlight.get(key);
    if (!job) {
      const { mkdir } = await import("node:fs/promises");
      await mkdir(cache, { recursive: true });
      job = runCli([...spec.args(runId, key), "--checkpoint", String(latest.step)]);
      inFlight.set(key, job);
      void job.catch(() => undefined).finally(() => inFlight.delete(key));
    }
    try {
      await job;
    } catch (err) {
      const code = (err as { exitCode?: number }).exitCode;
      return { status: code === 1 || code === 2 ? 422 : 500, error: (err as Error).message };
    }
  }
  return { path: target, type: spec.type, step: latest.step };
}
