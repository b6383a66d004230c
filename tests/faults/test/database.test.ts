/**
 * Database faults: PostgreSQL restarted during a run (the runner buffers metrics, retries with
 * backoff, loses nothing), PostgreSQL gone for good (the run stops cleanly, naming its last
 * recorded checkpoint, and a resume later loses nothing), and a PGlite directory locked by another
 * process (a clear error naming the holder).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import path from "node:path";
import { lockPathFor, openStore } from "@selfsup/store";
import { afterAll, describe, expect, inject, it } from "vitest";
import {
  cliEnv,
  mnistConfig,
  type PgCluster,
  pgStart,
  pgStop,
  record,
  runCli,
  sleep,
  startCli,
  steps,
  tempHome,
  writeConfig,
} from "../src/harness.js";

const pg: PgCluster = { url: inject("pgUrl"), dir: inject("pgDir") };
const KEYS = ["loss", "lr", "images_per_sec"];

async function pointsLost(url: string, runId: string, total: number): Promise<{ lost: number; dup: number }> {
  const store = await openStore({ url });
  try {
    let lost = 0;
    let dup = 0;
    for (const key of KEYS) {
      const [series] = await store.readSeries(runId, [key], { maxPoints: 10_000 });
      const xs = series?.points.map((p) => p.x) ?? [];
      lost += steps(total).filter((s) => !xs.includes(s)).length;
      dup += xs.length - new Set(xs).size;
    }
    return { lost, dup };
  } finally {
    await store.close();
  }
}

describe.skipIf(!pg.url)("PostgreSQL faults", () => {
  afterAll(() => {
    try {
      pgStart(pg);
    } catch {
      // already running
    }
  });

  it("restarted mid-run: metrics buffered, writes retried with backoff, nothing lost", async () => {
    const home = await tempHome();
    const env = cliEnv(home, { DATABASE_URL: pg.url });
    const total = 48;
    const file = await writeConfig(home, mnistConfig({ limit: 384, epochs: 2, everySteps: 4 }));
    const child = startCli(["train", file, "--json"], env);
    const start = await child.waitFor((e) => e.type === "start");
    await child.waitFor((e) => e.type === "step" && Number(e.step) >= 6);
    const stoppedAt = Math.max(...child.events.filter((e) => e.type === "step").map((e) => Number(e.step)));
    pgStop(pg);
    await sleep(3000);
    pgStart(pg);
    const code = await child.exited;
    const runId = String(start.runId);
    const retries = child.events.filter(
      (e) => e.type === "log" && /database unreachable/.test(String(e.message)),
    );
    const { lost, dup } = await pointsLost(pg.url, runId, total);
    const ok = code === 0 && lost === 0 && dup === 0 && retries.length > 0;
    record({
      section: "database",
      name: "PostgreSQL restarted mid-run (down 3 s)",
      expected: "run finishes; retries logged; 0 points lost",
      got: `stopped at step ${stoppedAt}; exit ${code}; ${retries.length} retry warnings (${String(retries[0]?.message ?? "").slice(0, 80)}); lost ${lost}, duplicates ${dup}`,
      ok,
      figures: { points_lost: lost, duplicates: dup },
    });
    expect(ok, child.stderr()).toBe(true);
  });

  it("gone past the retry limit: the run stops cleanly naming its checkpoint; resume later loses nothing", async () => {
    const home = await tempHome();
    const env = cliEnv(home, { DATABASE_URL: pg.url, SELFSUP_DB_RETRY_MS: "3000" });
    const total = 48;
    const file = await writeConfig(home, mnistConfig({ limit: 384, epochs: 2, everySteps: 4 }));
    const child = startCli(["train", file, "--json"], env);
    const start = await child.waitFor((e) => e.type === "start");
    await child.waitFor((e) => e.type === "checkpoint" && Number(e.step) >= 8);
    pgStop(pg);
    const code = await child.exited;
    pgStart(pg);
    const end = child.events.find((e) => e.type === "end");
    const message = String(end?.error ?? child.stderr());
    const runId = String(start.runId);
    const resumed = await runCli(["resume", runId, "--json", "--force"], env);
    const { lost, dup } = await pointsLost(pg.url, runId, total);
    const ok =
      code === 1 &&
      /database has been unreachable for \d+s .*the run stopped at step \d+\. Its last recorded checkpoint is step \d+/.test(
        message,
      ) &&
      resumed.code === 0 &&
      lost === 0 &&
      dup === 0;
    record({
      section: "database",
      name: "PostgreSQL gone (retry limit 3 s), later back",
      expected: "exit 1 naming the last recorded checkpoint; resume finishes; 0 lost",
      got: `exit ${code}: ${message.slice(0, 160)}; resume exit ${resumed.code}; lost ${lost}, duplicates ${dup}`,
      ok,
      figures: { points_lost: lost, duplicates: dup },
    });
    expect(ok, `${message}\n${resumed.stderr}`).toBe(true);
  });
});

describe("PGlite directory locked by another process", () => {
  let holder: ChildProcess | undefined;
  afterAll(() => {
    holder?.kill("SIGKILL");
  });

  it("a clear error naming the holder, nothing opened", async () => {
    const home = await tempHome();
    holder = spawn("sleep", ["60"], { stdio: "ignore" });
    const lock = {
      version: 1,
      pid: holder.pid,
      host: hostname(),
      share: false,
      startedAt: new Date().toISOString(),
      command: "sleep 60 (holding the store)",
    };
    await writeFile(lockPathFor(path.join(home, "db")), JSON.stringify(lock), { mode: 0o600 });
    const r = await runCli(["runs"], cliEnv(home));
    const ok = r.code !== 0 && /is in use by pid \d+ \("sleep 60 \(holding the store\)"\)/.test(r.stderr);
    record({
      section: "database",
      name: "PGlite directory locked (share: false)",
      expected: 'exit != 0: "... is in use by pid N ("sleep 60 ..."), which ..."',
      got: `exit ${r.code}: ${r.stderr.replace(home, "~").slice(0, 160)}`,
      ok,
    });
    expect(ok, r.stderr).toBe(true);
  });
});
