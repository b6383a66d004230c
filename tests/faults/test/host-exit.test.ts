/**
 * The process that hosts the embedded store goes away (issue 26, item 1) while two trainings and
 * the dashboard use the store through it: it exits cleanly (SIGTERM), is stopped with Ctrl-C
 * (SIGINT) or is killed with kill -9. A survivor takes the store over and the others reconnect:
 * both runs finish with every step's metrics exactly once, and the dashboard and a second
 * `selfsup serve` (a client of the store) answer again by themselves.
 */
import { openStore } from "@selfsup/store";
import { describe, expect, it } from "vitest";
import { gqlPost, startDashboard } from "../src/dashboard.js";
import { cliEnv, mnistConfig, record, startCli, steps, tempHome, writeConfig } from "../src/harness.js";

const KEYS = ["loss", "lr"];

describe("the host of the embedded store exits while others use it", () => {
  for (const signal of ["SIGTERM", "SIGINT", "SIGKILL"] as const) {
    const how = { SIGTERM: "exits cleanly (SIGTERM)", SIGINT: "Ctrl-C (SIGINT)", SIGKILL: "kill -9" }[signal];
    it(`host ${how}: both runs finish, every point once, the dashboard recovers`, async () => {
      const t0 = Date.now();
      const home = await tempHome();
      const env = cliEnv(home);
      // The host: the first opener of the directory (a `selfsup serve` that only holds the store).
      const host = startCli(["serve", "--port", "0", "--json"], env);
      await host.waitFor((e) => e.type === "serve" && /control API on/.test(String(e.message)));
      const dash = await startDashboard({ SELFSUP_HOME: home });
      const dashboardUp = Date.now();
      // A second control API, a client of the store: it used to answer 400 "reopen the store" forever.
      const serve2 = startCli(["serve", "--port", "0", "--json"], env);
      const serve2Line = await serve2.waitFor(
        (e) => e.type === "serve" && /control API on/.test(String(e.message)),
      );
      const serve2Url = /on (http:\/\/\S+)/.exec(String(serve2Line.message))?.[1] ?? "";
      const total = 24; // 192 digits / batch 16, 2 epochs
      const file = await writeConfig(home, mnistConfig({ limit: 192, epochs: 2, everySteps: 8 }));
      const runs = [startCli(["train", file, "--json"], env), startCli(["train", file, "--json"], env)];
      let polling = true;
      const answers: Array<{ at: number; ok: boolean }> = [];
      const poll = (async () => {
        while (polling) {
          const r = await gqlPost(dash.url, { query: "{ runCount storeInfo { role hostPid } }" }).catch(
            () => null,
          );
          answers.push({ at: Date.now(), ok: r?.status === 200 && !r.body?.errors });
          await new Promise((res) => setTimeout(res, 250));
        }
      })();
      try {
        const starts = await Promise.all(runs.map((r) => r.waitFor((e) => e.type === "start")));
        await Promise.all(runs.map((r) => r.waitFor((e) => e.type === "step" && Number(e.step) >= 4)));
        const killedAt = Date.now();
        host.child.kill(signal);
        const hostCode = await host.exited;
        const codes = await Promise.all(runs.map((r) => r.exited));
        // The dashboard answers again, by itself, after the host went.
        const recoverBy = Date.now() + 20_000;
        while (Date.now() < recoverBy && !answers.some((a) => a.at > killedAt + 500 && a.ok)) {
          await new Promise((res) => setTimeout(res, 200));
        }
        polling = false;
        await poll;
        const listed = await fetch(
          `${serve2Url}/list?input=${encodeURIComponent(JSON.stringify({ first: 5 }))}`,
        );
        const listedText = await listed.text();
        const serveOk = listed.status === 200 && listedText.includes('"runs"');
        const after = answers.filter((a) => a.at > killedAt);
        const dashOk = after.some((a) => a.ok) && answers.at(-1)?.ok === true;
        const firstOk = after.find((a) => a.ok);

        const store = await openStore({ dataDir: `${home}/db` });
        let lost = 0;
        let dup = 0;
        const statuses: string[] = [];
        try {
          for (const s of starts) {
            const runId = String(s.runId);
            statuses.push((await store.getRun(runId))?.status ?? "missing");
            for (const key of KEYS) {
              const [series] = await store.readSeries(runId, [key], { maxPoints: 10_000 });
              const xs = series?.points.map((p) => p.x) ?? [];
              lost += steps(total).filter((x) => !xs.includes(x)).length;
              dup += xs.length - new Set(xs).size;
            }
          }
        } finally {
          await store.close();
        }
        const ok =
          codes.every((c) => c === 0) &&
          statuses.every((s) => s === "finished") &&
          lost === 0 &&
          dup === 0 &&
          dashOk &&
          serveOk;
        record({
          section: "database",
          name: `store host ${how} under 2 trainings + dashboard`,
          expected:
            "both runs exit 0 and finish; 0 points lost or duplicated; dashboard and a 2nd serve answer again",
          got:
            `host exit ${hostCode}; runs exit ${codes.join(", ")} (${statuses.join(", ")}); lost ${lost}, duplicates ${dup}; ` +
            `dashboard ${dashOk ? `answered again after ${firstOk ? ((firstOk.at - killedAt) / 1000).toFixed(1) : "?"} s` : "did not recover"}; ` +
            `2nd serve list ${listed.status}`,
          ok,
          figures: {
            points_lost: lost,
            duplicates: dup,
            dashboard_back_s: firstOk ? Number(((firstOk.at - killedAt) / 1000).toFixed(1)) : "never",
            dashboard_start_s: Number(((dashboardUp - t0) / 1000).toFixed(1)),
            case_s: Number(((Date.now() - t0) / 1000).toFixed(1)),
          },
        });
        expect(ok, `${runs.map((r) => r.stderr()).join("\n---\n")}\n---\n${dash.output().slice(-2000)}`).toBe(
          true,
        );
      } finally {
        polling = false;
        await poll;
        for (const r of runs) r.child.kill("SIGKILL");
        host.child.kill("SIGKILL");
        serve2.child.kill("SIGKILL");
        await dash.stop();
      }
    });
  }
});
