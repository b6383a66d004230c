/**
 * Two real processes on one PGlite directory: the one that opens it first holds `<dataDir>.lock`
 * and serves the database on loopback; the other connects through the socket. One PGlite initdb for
 * the whole file (the child's); everything after it reopens the same directory.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  lockPathFor,
  openStore,
  type Run,
  type RunStore,
  type Series,
  type SharingInfo,
  StoreUnavailableError,
} from "../src/index.js";
import { ensureBuilt, StoreProcess } from "./process.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("sharing a PGlite directory between processes", () => {
  let dir: string;
  let dataDir: string;
  let child: StoreProcess;
  const opened: RunStore[] = [];
  let runA: Run;

  async function open(): Promise<RunStore> {
    const s = await openStore({ dataDir });
    opened.push(s);
    return s;
  }

  beforeAll(async () => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), "selfsup-share-"));
    dataDir = join(dir, "db");
    child = await StoreProcess.start();
  });

  afterAll(async () => {
    for (const s of opened) await s.close().catch(() => {});
    await child?.kill();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("the first opener hosts the directory; a second process writes and reads through it", async () => {
    const hosted = await child.call<{ sharing: SharingInfo; driver: string }>("open", { dataDir });
    expect(hosted.driver).toBe("pglite");
    expect(hosted.sharing).toMatchObject({ role: "host", dataDir, hostPid: child.pid });
    const lock = JSON.parse(readFileSync(lockPathFor(dataDir), "utf8"));
    expect(lock).toMatchObject({ pid: child.pid, host: hostname(), share: true, port: hosted.sharing.port });
    expect(lock.command).toContain("store-process.mjs");
    expect(Date.parse(lock.startedAt)).toBeGreaterThan(Date.now() - 120_000);
    // Only this user may read the lock, which holds the server's password; without it: refused.
    expect(statSync(lockPathFor(dataDir)).mode & 0o777).toBe(0o600);
    for (const password of [undefined, "wrong"]) {
      const stranger = new pg.Client({ host: "127.0.0.1", port: lock.port, user: "postgres", password });
      stranger.on("error", () => {});
      await expect(stranger.connect()).rejects.toThrow(/password authentication failed/);
      await stranger.end().catch(() => {});
    }

    const store = await open();
    expect(store.db.driver).toBe("pg");
    expect(store.db.sharing).toMatchObject({ role: "client", hostPid: child.pid, port: lock.port });
    expect(store.migration?.applied).toEqual([]); // the host migrated already

    // This process writes, the host reads ...
    runA = await store.createRun({
      method: "simclr",
      dataset: "mnist",
      status: "running",
      config: { lr: 0.1 },
    });
    const writer = store.metricWriter(runA.id, { flushEvery: 25 });
    for (let step = 0; step < 100; step++) writer.log(step, { loss: 1 / (step + 1), acc: step / 100 });
    await writer.close();
    const seen = await child.call<{ run: Run; series: Series[] }>("read", {
      runId: runA.id,
      keys: ["loss", "acc"],
    });
    expect(seen.run).toMatchObject({ id: runA.id, method: "simclr", status: "running", config: { lr: 0.1 } });
    expect(seen.series.map((s) => [s.key, s.points.length])).toEqual([
      ["loss", 100],
      ["acc", 100],
    ]);
    expect(seen.series[0]!.points[99]).toMatchObject({ x: 99, y: 0.01 });

    // ... and the other way round.
    const runB = await child.call<Run>("createRun", { method: "byol", dataset: "mnist", status: "running" });
    await child.call("logMetrics", {
      runId: runB.id,
      points: [
        [0, { loss: 2 }],
        [1, { loss: 1.5 }],
      ],
    });
    expect((await store.getRun(runB.id))?.method).toBe("byol");
    const [loss] = await store.readSeries(runB.id, ["loss"]);
    expect(loss!.points.map((p) => p.y)).toEqual([2, 1.5]);
    expect(await store.countRuns()).toBe(2);
  });

  it("clients and the host take turns: a host write never lands in a client's transaction", async () => {
    const [a] = opened;
    const b = await open();

    let hostDone = false;
    let hostWrite: Promise<string[]> | undefined;
    await expect(
      a!.db.transaction(async (tx) => {
        await tx.query("UPDATE runs SET notes = 'rolled back' WHERE id = $1", [runA.id]);
        hostWrite = child.call<string[]>("tag", { runId: runA.id, tag: "from-host" }).finally(() => {
          hostDone = true;
        });
        await sleep(300);
        expect(hostDone).toBe(false); // the host waits for our transaction to end
        throw new Error("roll it back");
      }),
    ).rejects.toThrow("roll it back");
    expect(await hostWrite).toEqual(["from-host"]);
    const run = await b.getRun(runA.id);
    expect(run?.notes).toBeNull();
    expect(run?.tags).toEqual(["from-host"]);

    // Everyone at once: two clients in this process and the host, each in its own transactions.
    const points = (key: string) => Array.from({ length: 30 }, (_, step) => ({ key, step, value: step }));
    await Promise.all([
      ...Array.from({ length: 10 }, (_, i) => a!.appendMetrics(runA.id, points(`a${i}`))),
      ...Array.from({ length: 10 }, (_, i) => b.appendMetrics(runA.id, points(`b${i}`))),
      ...Array.from({ length: 5 }, (_, i) =>
        child.call("logMetrics", {
          runId: runA.id,
          points: Array.from({ length: 30 }, (_, step) => [step, { [`h${i}`]: step }]),
        }),
      ),
    ]);
    const rows = await a!.db.query<{ n: string | number }>(
      `SELECT count(*) AS n FROM metric_points p JOIN metric_series s ON s.id = p.series_id
       WHERE s.run_id = $1 AND s.key <> ALL($2::text[])`,
      [runA.id, ["loss", "acc"]],
    );
    expect(Number(rows[0]!.n)).toBe(25 * 30);
  });

  it("share: false keeps the directory to its holder, with an error naming it", async () => {
    // Its clients would take the store over when the host closes it (takeover.test.ts): close them.
    for (const s of opened.splice(0)) await s.close();
    await child.call("close");
    const hosted = await child.call<{ sharing: SharingInfo }>("open", { dataDir, share: false });
    expect(hosted.sharing.port).toBeUndefined();
    const refused = await openStore({ dataDir }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(StoreUnavailableError);
    const e = refused as StoreUnavailableError;
    expect(e.code).toBe("unavailable");
    expect(e.reason).toBe("locked");
    expect(e.holderPid).toBe(child.pid);
    expect(e.message).toContain(dataDir);
    expect(e.message).toContain(`pid ${child.pid}`);
    expect(e.message).toContain("store-process.mjs");
    expect(e.message).toContain("share: false");
    expect(e.message).toContain("DATABASE_URL");
  });

  it("a lock left by a dead process is taken over", async () => {
    await child.call("close");
    await child.call("open", { dataDir });
    await child.kill("SIGKILL"); // no exit handler runs: the lock stays behind

    // A lock naming a process that is gone (here: one that ran and exited).
    const dead = spawnSync(process.execPath, ["-e", ""]).pid;
    const lockPath = lockPathFor(dataDir);
    const stale = {
      pid: dead,
      host: hostname(),
      port: 1,
      share: true,
      startedAt: new Date().toISOString(),
      command: "ghost",
    };
    writeFileSync(lockPath, JSON.stringify(stale));

    const store = await open();
    expect(store.db.sharing).toMatchObject({ role: "host", hostPid: process.pid });
    expect(JSON.parse(readFileSync(lockPath, "utf8")).pid).toBe(process.pid);
    expect((await store.getRun(runA.id))?.tags).toEqual(["from-host"]); // the data survived

    // A second opener in this same process, through a symlinked spelling of the directory, is a
    // client of this process's own server rather than a second PGlite on the directory.
    symlinkSync(dir, `${dir}-alias`);
    const again = await openStore({ dataDir: join(`${dir}-alias`, "db") });
    try {
      expect(again.db.sharing).toMatchObject({ role: "client", hostPid: process.pid });
      await again.addTag(runA.id, "same-process");
      expect((await store.getRun(runA.id))?.tags).toEqual(["from-host", "same-process"]);
    } finally {
      await again.close();
      rmSync(`${dir}-alias`);
    }
    await store.close();
    expect(() => readFileSync(lockPath)).toThrow(/ENOENT/); // released on close
  });
});
