/**
 * Crashes: kill -9 of a training process at random points, several times, then `selfsup resume`
 * until the run completes: every step's metrics exactly once, and a checkpoint that loads. Torn
 * checkpoints (truncated file, flipped byte): detected by checksum, the previous one used, said so.
 */
import { readFile, truncate, writeFile } from "node:fs/promises";
import path from "node:path";
import { openStore } from "@selfsup/store";
import { describe, expect, it } from "vitest";
import {
  cliEnv,
  mnistConfig,
  record,
  runCli,
  sleep,
  startCli,
  steps,
  tempHome,
  writeConfig,
} from "../src/harness.js";

const fastBeats = { SELFSUP_HEARTBEAT_MS: "200", SELFSUP_STALE_AFTER_MS: "1500" };
const KEYS = ["loss", "lr", "images_per_sec"];

/** A seeded generator, so a failing run can be replayed (the seed is printed). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe("kill -9 at random points, then resume", () => {
  it("completes with every step's metrics exactly once and a checkpoint that loads", async () => {
    const seed = Number(process.env.SELFSUP_FAULTS_SEED ?? Date.now() % 100_000);
    const rand = rng(seed);
    const home = await tempHome();
    const env = cliEnv(home, fastBeats);
    const total = 32; // 256 digits / batch 16 = 16 steps per epoch, 2 epochs
    const file = await writeConfig(home, mnistConfig({ limit: 256, epochs: 2, everySteps: 3 }));

    let runId = "";
    const kills: string[] = [];
    for (let k = 0; k < 3; k++) {
      const child = runId
        ? startCli(["resume", runId, "--json", "--force"], env)
        : startCli(["train", file, "--json"], env);
      const start = await child.waitFor((e) => e.type === "start");
      runId = String(start.runId);
      const from = Number(start.startStep);
      // Somewhere 1-6 steps in, then a random delay inside the step / flush / checkpoint write.
      const target = Math.min(total - 2, from + 1 + Math.floor(rand() * 6));
      await child.waitFor((e) => e.type === "step" && Number(e.step) >= target);
      await sleep(Math.floor(rand() * 120));
      const last = child.events.at(-1);
      child.child.kill("SIGKILL");
      expect(await child.exited).toBe(137);
      kills.push(`after ${String(last?.type)} ${String(last?.step ?? "")}`.trim());
    }

    const done = await runCli(["resume", runId, "--json", "--force"], env);
    expect(done.code, done.stderr).toBe(0);
    expect(done.events.at(-1)).toMatchObject({ type: "end", status: "finished", step: total });

    const store = await openStore({ dataDir: path.join(home, "db") });
    let lost = 0;
    let dup = 0;
    let latestPath = "";
    try {
      expect((await store.getRun(runId))?.status).toBe("finished");
      for (const key of KEYS) {
        const [series] = await store.readSeries(runId, [key], { maxPoints: 10_000 });
        const xs = series?.points.map((p) => p.x) ?? [];
        lost += steps(total).filter((s) => !xs.includes(s)).length;
        dup += xs.length - new Set(xs).size;
        expect(xs, key).toEqual(steps(total));
      }
      latestPath = (await store.latestCheckpoint(runId))?.path ?? "";
    } finally {
      await store.close();
    }
    // The checkpoint loads: `selfsup eval` restores it into the model (checksums, names, shapes).
    const ev = await runCli(
      ["eval", runId, "--protocol", "knn", "--limit", "200", "--no-save", "--json"],
      env,
    );
    expect(ev.code, ev.stderr).toBe(0);
    const evalOut = JSON.parse(ev.stdout) as { step: number; checkpoint: string };
    expect(evalOut.step).toBe(total);
    expect(evalOut.checkpoint).toBe(latestPath);
    record({
      section: "crashes",
      name: `kill -9 x3 (seed ${seed}) + resume`,
      expected: `finished, steps 1..${total} once per key, checkpoint loads`,
      got: `kills ${kills.join("; ")}; finished; lost ${lost}, duplicates ${dup}; eval loaded step ${evalOut.step}`,
      ok: lost === 0 && dup === 0,
      figures: { points_lost: lost, duplicates: dup },
    });
  });
});

describe("torn checkpoints", () => {
  for (const how of ["truncated weights.bin", "one flipped byte in weights.bin"] as const) {
    it(`${how}: resume detects it by checksum and continues from the previous one, saying so`, async () => {
      const home = await tempHome();
      const env = cliEnv(home);
      const file = await writeConfig(
        home,
        mnistConfig({ limit: 256, epochs: 1, everySteps: 2, keepLast: 3 }),
      );
      const child = startCli(["train", file, "--json"], env);
      const start = await child.waitFor((e) => e.type === "start");
      await child.waitFor((e) => e.type === "checkpoint" && Number(e.step) >= 6);
      child.child.kill("SIGINT");
      expect(await child.exited).toBe(130);
      const runId = String(start.runId);
      let store = await openStore({ dataDir: path.join(home, "db") });
      const cks = (await store.listCheckpoints(runId)).sort((a, b) => b.step - a.step);
      await store.close();
      const [newest, previous] = cks;
      if (!newest || !previous) throw new Error("expected two checkpoints");
      const weights = path.join(newest.path, "weights.bin");
      if (how.startsWith("truncated")) {
        const size = (await readFile(weights)).byteLength;
        await truncate(weights, Math.floor(size / 2));
      } else {
        const bytes = await readFile(weights);
        bytes[bytes.length >> 1] = (bytes[bytes.length >> 1] ?? 0) ^ 0x01;
        await writeFile(weights, bytes);
      }
      const r = await runCli(["resume", runId, "--json"], env);
      const warn = r.events.find(
        (e) => e.type === "log" && e.level === "warn" && /skipped/.test(String(e.message)),
      );
      const first = r.events.find((e) => e.type === "step");
      store = await openStore({ dataDir: path.join(home, "db") });
      const [loss] = await store.readSeries(runId, ["loss"], { maxPoints: 10_000 });
      await store.close();
      const xs = loss?.points.map((p) => p.x) ?? [];
      const ok =
        r.code === 0 &&
        warn !== undefined &&
        Number(first?.step) === previous.step + 1 &&
        JSON.stringify(xs) === JSON.stringify(steps(16));
      record({
        section: "crashes",
        name: `torn newest checkpoint: ${how}`,
        expected: `skipped with its reason; resumed from step ${previous.step}`,
        got: `${String(warn?.message ?? "no warning").replace(home, "~")}; resumed at step ${Number(first?.step) - 1}; exit ${r.code}`,
        ok,
        figures: { points_lost: steps(16).filter((s) => !xs.includes(s)).length },
      });
      expect(ok, r.stderr).toBe(true);
    });
  }
});
