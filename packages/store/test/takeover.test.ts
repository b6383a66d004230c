/**
 * A shared PGlite directory survives the process that hosts it (issue 26, item 1): when the host
 * exits (kill -9, process.exit, a clean close), a client takes the store over or reconnects to the
 * survivor that did, and what it was writing lands exactly once. Real processes, a real socket; the
 * last case puts a TCP relay between a client and its host to lose exactly the COMMIT's answer (or
 * the COMMIT itself) at the moment the host dies.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DirectoryDb, isReadOnlySql } from "../src/directory-db.js";
import { lockPathFor, openStore, type RunStore } from "../src/index.js";
import { ensureBuilt, StoreProcess } from "./process.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("a shared PGlite directory outlives its host", () => {
  let dir: string;
  let dataDir: string;
  const children: StoreProcess[] = [];
  const opened: RunStore[] = [];

  async function hostChild(): Promise<StoreProcess> {
    const child = await StoreProcess.start();
    children.push(child);
    const r = await child.call<{ sharing: { role: string } }>("open", { dataDir });
    expect(r.sharing.role).toBe("host");
    return child;
  }

  async function open(): Promise<RunStore> {
    const s = await openStore({ dataDir });
    opened.push(s);
    return s;
  }

  beforeAll(() => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), "selfsup-takeover-"));
    dataDir = join(dir, "db");
  });

  afterAll(async () => {
    for (const s of opened) await s.close().catch(() => {});
    for (const c of children) await c.kill().catch(() => {});
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const endings: Array<[string, (c: StoreProcess) => Promise<unknown>]> = [
    ["kill -9", (c) => c.kill("SIGKILL")],
    [
      "process.exit (PGlite left open, lock removed at exit)",
      (c) => c.send("exit", { code: 0 }).catch(() => null),
    ],
    [
      "a clean close, then exit",
      async (c) => {
        await c.call("close");
        await c.send("exit", { code: 0 }).catch(() => null);
      },
    ],
  ];

  for (const [how, end] of endings) {
    it(`host ended by ${how}: two writers keep every point exactly once`, async () => {
      const host = await hostChild();
      const a = await open();
      const b = await open();
      expect(a.db.sharing?.role).toBe("client");
      const runs = await Promise.all(
        [a, b].map((s) => s.createRun({ method: "simclr", dataset: "mnist", status: "running" })),
      );
      const STEPS = 240;
      let killed = false;
      const write = async (s: RunStore, runId: string) => {
        const w = s.metricWriter(runId, { flushEvery: 8, flushIntervalMs: 20 });
        for (let step = 1; step <= STEPS; step++) {
          w.log(step, { loss: 1 / step, lr: step });
          if (step % 8 === 0) await sleep(5);
          if (step === 80 && !killed) {
            killed = true;
            await end(host);
          }
        }
        await w.close();
        await s.addTag(runId, "done");
        return s.finishRun(runId, { status: "finished" });
      };
      const finished = await Promise.all([write(a, runs[0]!.id), write(b, runs[1]!.id)]);
      expect(finished.map((r) => r.status)).toEqual(["finished", "finished"]);
      // One of the two now hosts the directory; the other reaches it through this process.
      expect([a.db.sharing?.role, b.db.sharing?.role].sort()).toEqual(["client", "host"]);
      expect([a.db.sharing?.hostPid, b.db.sharing?.hostPid]).toEqual([process.pid, process.pid]);
      for (const run of runs) {
        const counts = await a.db.query<{ key: string; n: number; steps: number; lo: number; hi: number }>(
          `SELECT s.key, count(*)::int AS n, count(DISTINCT p.step)::int AS steps, min(p.step)::int AS lo,
                  max(p.step)::int AS hi
           FROM metric_points p JOIN metric_series s ON s.id = p.series_id WHERE s.run_id = $1
           GROUP BY s.key ORDER BY s.key`,
          [run.id],
        );
        expect(counts).toEqual([
          { key: "loss", n: STEPS, steps: STEPS, lo: 1, hi: STEPS },
          { key: "lr", n: STEPS, steps: STEPS, lo: 1, hi: STEPS },
        ]);
        // The downsampling pyramid was kept with the points: its counts add up to the same total.
        const [lr] = await a.readSeries(run.id, ["lr"], { maxPoints: 10 });
        expect(lr!.total).toBe(STEPS);
        expect(lr!.points.reduce((n, p) => n + p.count, 0)).toBe(STEPS);
        expect((await a.getRun(run.id))?.tags).toEqual(["done"]);
      }
      // Hand the directory back for the next case.
      for (const s of opened.splice(0)) await s.close();
      expect(() => readFileSync(lockPathFor(dataDir))).toThrow(/ENOENT/);
    });
  }

  /**
   * A TCP relay between one client and the host that, once armed, cuts the connection at the
   * COMMIT: either the server's answer to it (the write landed, the client never hears so) or the
   * COMMIT itself (it never landed), and kills the host at that instant.
   */
  function relay(target: number, onCut: () => void) {
    let arm: "answer" | "request" | undefined;
    const sockets: Socket[] = [];
    const server: Server = createServer((client) => {
      const upstream = new Socket();
      sockets.push(client, upstream);
      const cut = () => {
        arm = undefined;
        client.destroy();
        upstream.destroy();
        onCut();
      };
      upstream.connect(target, "127.0.0.1");
      client.on("data", (d: Buffer) => {
        if (arm === "request" && d.includes(Buffer.from("COMMIT\0"))) return cut();
        upstream.write(d);
      });
      upstream.on("data", (d: Buffer) => {
        if (arm === "answer" && d.includes(Buffer.from("COMMIT\0"))) return cut();
        client.write(d);
      });
      client.on("error", () => {});
      upstream.on("error", () => {});
      client.on("close", () => upstream.destroy());
      upstream.on("close", () => client.destroy());
    });
    return {
      server,
      listen: () =>
        new Promise<number>((resolve) =>
          server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port)),
        ),
      arm: (what: "answer" | "request") => {
        arm = what;
      },
      close: () => {
        for (const s of sockets) s.destroy();
        server.close();
      },
    };
  }

  for (const lost of ["answer", "request"] as const) {
    it(`the connection dies with the COMMIT's ${lost}: the write lands exactly once`, async () => {
      const host = await hostChild();
      const lockPath = lockPathFor(dataDir);
      const lock = JSON.parse(readFileSync(lockPath, "utf8"));
      const r = relay(lock.port, () => void host.kill("SIGKILL"));
      try {
        // Clients read the port from the lock: point them at the relay.
        writeFileSync(lockPath, JSON.stringify({ ...lock, port: await r.listen() }), { mode: 0o600 });
        const s = await open();
        expect(s.db).toBeInstanceOf(DirectoryDb);
        const run = await s.createRun({ method: "byol", dataset: "mnist", status: "running" });
        r.arm(lost);
        // Not idempotent on purpose: applied twice it would read "xx".
        let ran = 0;
        await s.db.transaction(async (tx) => {
          ran++;
          await tx.query("UPDATE runs SET notes = coalesce(notes, '') || 'x' WHERE id = $1", [run.id]);
        });
        await s.db.query("UPDATE runs SET notes = notes || 'y' WHERE id = $1", [run.id]);
        expect(ran).toBe(lost === "answer" ? 1 : 2);
        expect(s.db.sharing?.role).toBe("host"); // it took the store over
        expect((await s.getRun(run.id))?.notes).toBe("xy");
        expect((s.db as DirectoryDb).reconnects).toBe(1);
      } finally {
        r.close();
        for (const s of opened.splice(0)) await s.close();
      }
    });
  }

  it("tells reads from writes", () => {
    expect(isReadOnlySql("SELECT * FROM runs WHERE updated_at > $1")).toBe(true);
    expect(isReadOnlySql("  with x as (select 1) select * from x")).toBe(true);
    expect(isReadOnlySql("WITH d AS (DELETE FROM runs RETURNING id) SELECT count(*) FROM d")).toBe(false);
    expect(isReadOnlySql("INSERT INTO runs VALUES (1)")).toBe(false);
    expect(isReadOnlySql("SELECT pg_advisory_xact_lock(1)")).toBe(false);
    expect(isReadOnlySql("UPDATE runs SET notes = 'select'")).toBe(false);
  });
});
