/**
 * Runs that survive: Ctrl-C stops after the step with a checkpoint (exit 130, status
 * interrupted); kill -9 leaves the run to the stale-heartbeat sweep, and `selfsup resume`
 * continues from the last checkpoint with a metric series that has no gap and no duplicate.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { openStore } from "@selfsup/store";
import { describe, expect, it } from "vitest";
import { cliEnv, runCli, sleep, startCli, tempHome, tinyConfig, writeConfig } from "./helpers.js";

const fastBeats = { SELFSUP_HEARTBEAT_MS: "200", SELFSUP_STALE_AFTER_MS: "1500" };

describe("interrupting and resuming runs", () => {
  it("SIGINT: finishes the step, checkpoints, marks the run interrupted, exits 130", async () => {
    const home = await tempHome();
    const file = await writeConfig(home, tinyConfig({ epochs: 3, trainSize: 256 }));
    const child = startCli(["train", file, "--json"], cliEnv(home));
    const start = await child.waitFor((e) => e.type === "start");
    await child.waitFor((e) => e.type === "step" && Number(e.step) >= 2);
    child.child.kill("SIGINT");
    const code = await child.exited;
    expect(code, child.stderr()).toBe(130);
    const end = child.events.find((e) => e.type === "end");
    expect(end?.status).toBe("interrupted");
    const ckpt = child.events.find((e) => e.type === "checkpoint" && e.reason === "interrupt");
    expect(ckpt).toBeDefined();
    const lastStep = Math.max(...child.events.filter((e) => e.type === "step").map((e) => Number(e.step)));
    expect(ckpt?.step).toBe(lastStep);
    expect(lastStep).toBeLessThan(48);

    const runId = String(start.runId);
    const store = await openStore({ dataDir: path.join(home, "db") });
    try {
      const run = await store.getRun(runId);
      expect(run?.status).toBe("interrupted");
      const latest = await store.latestCheckpoint(runId);
      expect(latest?.step).toBe(lastStep);
      expect(existsSync(path.join(latest?.path ?? "", "manifest.json"))).toBe(true);
      const [loss] = await store.readSeries(runId, ["loss"], { maxPoints: 1000 });
      expect(loss?.points.map((p) => p.x)).toEqual(Array.from({ length: lastStep }, (_, i) => i + 1));
    } finally {
      await store.close();
    }
  });

  it("kill -9 mid-epoch: marked failed by stale heartbeat; resume continues with steps exactly 1..N", async () => {
    const home = await tempHome();
    const env = cliEnv(home, fastBeats);
    // 16 steps per epoch, 2 epochs, a checkpoint every 4 steps.
    const file = await writeConfig(home, tinyConfig({ epochs: 2, trainSize: 256, everySteps: 4 }));
    const child = startCli(["train", file, "--json"], env);
    const start = await child.waitFor((e) => e.type === "start");
    const runId = String(start.runId);
    const ckpt = await child.waitFor((e) => e.type === "checkpoint" && Number(e.step) >= 8);
    // a few steps past the checkpoint, so there are metric points to discard
    await child.waitFor((e) => e.type === "step" && Number(e.step) >= Number(ckpt.step) + 2);
    child.child.kill("SIGKILL");
    expect(await child.exited).toBe(137);
    const killedAt = Math.max(...child.events.filter((e) => e.type === "step").map((e) => Number(e.step)));
    expect(killedAt).toBeLessThan(16); // mid first epoch

    // Nobody heartbeats any more: `runs` (like train and worker) sweeps it to failed.
    await sleep(2000);
    const runs = await runCli(["runs", "--json"], env);
    const row = JSON.parse(runs.stdout).runs.find((r: { id: string }) => r.id === runId);
    expect(row).toMatchObject({ status: "failed", error: "stale heartbeat" });

    const resumed = await runCli(["resume", runId, "--json"], env);
    expect(resumed.code, resumed.stderr).toBe(0);
    const rstart = resumed.events.find((e) => e.type === "start");
    expect(rstart).toMatchObject({ resumed: true, totalSteps: 32 });
    const firstResumedStep = resumed.events.find((e) => e.type === "step");
    const resumedFrom = Number(firstResumedStep?.step) - 1;
    expect(resumedFrom).toBeGreaterThanOrEqual(8);
    expect(resumedFrom % 4).toBe(0);
    expect(resumed.events.at(-1)).toMatchObject({ type: "end", status: "finished", step: 32 });

    const store = await openStore({ dataDir: path.join(home, "db") });
    try {
      const run = await store.getRun(runId);
      expect(run?.status).toBe("finished");
      expect(run?.error).toBeNull();
      for (const key of ["loss", "lr", "images_per_sec"]) {
        const [series] = await store.readSeries(runId, [key], { maxPoints: 10_000 });
        const steps = series?.points.map((p) => p.x) ?? [];
        expect(steps, key).toEqual(Array.from({ length: 32 }, (_, i) => i + 1));
        expect(series?.total).toBe(32);
      }
      expect(await store.lastMetricStep(runId)).toBe(32);
    } finally {
      await store.close();
    }
  });

  it("refuses to resume an unknown run (exit 2)", async () => {
    const home = await tempHome();
    const env = cliEnv(home);
    const r = await runCli(["resume", "no-such-run"], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('no run with id or name "no-such-run"');
  });
});
